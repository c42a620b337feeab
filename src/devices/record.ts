// The device record of one sandbox: cold- and hot-plugged devices in one list, bridges and their
// slots, root ports, vCPUs, DIMMs, virtio-mem, with the allocators hot plug needs. Plain JSON
// inside (`DeviceRecordData`, version 1); created from the plan, persisted with `toJSON()`.
//
// Bridge slots are handed out by ./bridges.ts (Kata's `addDeviceToBridge`), a pure leaf module:
// the one allocator, used by the planner for cold plug and here for hot plug.
import { addDeviceToBridge, type BridgeSlot, type BridgeType, removeDeviceFromBridge } from './bridges.js';
import { DeviceRecordVersionError } from './errors.js';
import type {
  BridgeEntry,
  DeviceEntry,
  DeviceRecordData,
  DimmEntry,
  VcpuEntry,
  VirtioMemEntry,
} from './record-types.js';
import { MAX_SCSI_DRIVES } from './rules.js';

export { DeviceRecordVersionError } from './errors.js';

/** What {@link DeviceRecord.create} starts from (the plan's record, or parts of it). */
export interface DeviceRecordInit {
  /** Cold-plugged devices (origin `cold`) with their placements and backends. */
  readonly devices?: readonly DeviceEntry[];
  /** The bridges after cold plug (the plan's `bridges`). */
  readonly bridges?: readonly BridgeEntry[];
  /** Number of PCIe root ports the plan created (`rp0`, `rp1`, ...), all free. */
  readonly pcieRootPorts?: number;
}

/**
 * Every device of one sandbox, cold- and hot-plugged, with where it sits and what backs it; plus
 * bridge slots, root ports, vCPUs, DIMMs and virtio-mem. Mutated only by the hot-plug operations
 * (one at a time); readers get the plain data.
 *
 * @example
 * ```ts
 * const record = DeviceRecord.fromJSON(plan.record);
 * record.nextScsiIndex();          // 1 when the plan cold-plugged one SCSI disk
 * const saved = record.toJSON();   // { version: 1, devices: [...], bridges: [...], ... }
 * ```
 */
export class DeviceRecord {
  private data: DeviceRecordData;

  private constructor(data: DeviceRecordData) {
    this.data = data;
  }

  /** The empty record of a sandbox (version 1), continuing from the plan's devices and bridges. */
  static create(init: DeviceRecordInit = {}): DeviceRecord {
    const rootPorts: Record<string, string | null> = {};
    for (let i = 0; i < (init.pcieRootPorts ?? 0); i++) rootPorts[`rp${i}`] = null;
    return new DeviceRecord({
      version: 1,
      devices: structuredClone([...(init.devices ?? [])]),
      bridges: structuredClone([...(init.bridges ?? [])]),
      rootPorts,
      vcpus: [],
      nextVcpu: 0,
      dimms: [],
      hotpluggedMemoryMiB: 0,
      virtioMem: null,
    });
  }

  /** Restores a record saved with `toJSON()` (or the plan's); another version → {@link DeviceRecordVersionError}. */
  static fromJSON(data: DeviceRecordData): DeviceRecord {
    const version =
      typeof data === 'object' && data !== null ? (data as { version?: unknown }).version : data;
    if (version !== 1) throw new DeviceRecordVersionError(version);
    return new DeviceRecord(structuredClone(data));
  }

  /** A deep copy of the plain data (JSON-serializable). */
  toJSON(): DeviceRecordData {
    return structuredClone(this.data);
  }

  /**
   * The live plain data, read-only and without the copy `toJSON()` makes: for a caller that
   * serializes it at once (state.json is written on every change). Never keep or modify it.
   *
   * @example
   * ```ts
   * const text = JSON.stringify(record.peek());
   * ```
   */
  peek(): Readonly<DeviceRecordData> {
    return this.data;
  }

  /** Every device, cold-plugged first, then hot-plugged in plug order. */
  get devices(): readonly DeviceEntry[] {
    return this.data.devices;
  }

  /** Bridges with their occupied slots. */
  get bridges(): readonly BridgeEntry[] {
    return this.data.bridges;
  }

  /** PCIe root ports → the device using each (or null). */
  get rootPorts(): Readonly<Record<string, string | null>> {
    return this.data.rootPorts;
  }

  /** Hot-plugged vCPUs, oldest first. */
  get vcpus(): readonly VcpuEntry[] {
    return this.data.vcpus;
  }

  /** Hot-plugged DIMMs, oldest first. */
  get dimms(): readonly DimmEntry[] {
    return this.data.dimms;
  }

  /** MiB hot-plugged (DIMMs or virtio-mem's requested size): Kata's `HotpluggedMemory`. */
  get hotpluggedMemoryMiB(): number {
    return this.data.hotpluggedMemoryMiB;
  }

  /** The virtio-mem device, once set up. */
  get virtioMem(): VirtioMemEntry | null {
    return this.data.virtioMem;
  }

  /** The device with this id (cold or hot). */
  device(id: string): DeviceEntry | undefined {
    return this.data.devices.find((d) => d.id === id);
  }

  /** Whether any device, backend, vCPU, DIMM or virtio-mem uses this QEMU id. */
  hasId(id: string): boolean {
    return (
      this.data.devices.some(
        (d) =>
          d.id === id ||
          d.backends.node === id ||
          d.backends.netdev === id ||
          d.backends.chardev === id ||
          (d.backends.objects ?? []).includes(id),
      ) ||
      this.data.bridges.some((b) => b.id === id) ||
      id in this.data.rootPorts ||
      this.data.vcpus.some((c) => c.id === id) ||
      this.data.dimms.some((d) => d.id === id || d.backendId === id) ||
      this.data.virtioMem?.id === id ||
      this.data.virtioMem?.backendId === id
    );
  }

  /** Records a plugged device. */
  addDevice(entry: DeviceEntry): void {
    this.data = { ...this.data, devices: [...this.data.devices, entry] };
  }

  /** Replaces a device's entry (e.g. the guest's name for it once the guest reported it). */
  updateDevice(id: string, patch: Partial<Pick<DeviceEntry, 'guestPath' | 'pendingRemoval'>>): void {
    this.data = {
      ...this.data,
      devices: this.data.devices.map((d) => (d.id === id ? { ...d, ...patch } : d)),
    };
  }

  /** Marks a device whose `device_del` was accepted but whose `DEVICE_DELETED` is outstanding. */
  markPendingRemoval(id: string): void {
    this.updateDevice(id, { pendingRemoval: true });
  }

  /** Forgets a device (its slot and root port are released separately). */
  removeDevice(id: string): void {
    this.data = { ...this.data, devices: this.data.devices.filter((d) => d.id !== id) };
  }

  /** Bridge type for PCI hot plug here (`pci` or `pcie`), or `ccw`; undefined without such bridges. */
  bridgeTypeFor(transport: 'pci' | 'ccw'): BridgeType | undefined {
    if (transport === 'ccw') return this.data.bridges.some((b) => b.type === 'ccw') ? 'ccw' : undefined;
    return this.data.bridges.find((b) => b.type !== 'ccw')?.type;
  }

  /** Free slots on bridges of `type`. */
  freeSlots(type: BridgeType): number {
    let free = 0;
    for (const b of this.data.bridges) {
      if (b.type === type) free += b.maxCapacity - Object.keys(b.devices).length;
    }
    return free;
  }

  /** Takes a bridge slot (Kata's `addDeviceToBridge`); throws the allocator's typed errors. */
  takeSlot(deviceId: string, type: BridgeType): BridgeSlot {
    const slot = addDeviceToBridge(this.data.bridges, deviceId, type);
    this.data = { ...this.data, bridges: slot.bridges };
    return slot;
  }

  /** Frees a device's bridge slot (no-op when it holds none): Kata's `removeDeviceFromBridge`. */
  releaseSlot(deviceId: string): void {
    const holds = this.data.bridges.some((b) => Object.values(b.devices).includes(deviceId));
    if (!holds) return;
    this.data = { ...this.data, bridges: removeDeviceFromBridge(this.data.bridges, deviceId) };
  }

  /** Takes the first free PCIe root port for `deviceId`; undefined when all are used. */
  takeRootPort(deviceId: string): string | undefined {
    const port = Object.keys(this.data.rootPorts).find((p) => this.data.rootPorts[p] === null);
    if (port === undefined) return undefined;
    this.data = { ...this.data, rootPorts: { ...this.data.rootPorts, [port]: deviceId } };
    return port;
  }

  /** Whether a PCIe root port is free. */
  hasFreeRootPort(): boolean {
    return Object.values(this.data.rootPorts).includes(null);
  }

  /** Frees the root port a device used. */
  releaseRootPort(deviceId: string): void {
    const rootPorts = { ...this.data.rootPorts };
    for (const [p, id] of Object.entries(rootPorts)) if (id === deviceId) rootPorts[p] = null;
    this.data = { ...this.data, rootPorts };
  }

  /**
   * The lowest SCSI drive index no cold- or hot-plugged disk uses (its scsi-id/LUN follow from it,
   * Kata's `GetSCSIIdLun`); `undefined` when all {@link MAX_SCSI_DRIVES} are taken.
   */
  nextScsiIndex(): number | undefined {
    const used = new Set<number>();
    for (const d of this.data.devices) if (d.placement.scsi) used.add(d.placement.scsi.index);
    for (let i = 0; i < MAX_SCSI_DRIVES; i++) if (!used.has(i)) return i;
    return undefined;
  }

  /** Memory slots in use: hot-plugged DIMMs plus devices holding a memory slot (nvdimms). */
  memorySlotsUsed(): number {
    return this.data.dimms.length + this.data.devices.filter(isNvdimm).length;
  }

  /** MiB of hot-plugged nvdimm backends (they take room below maxmem). */
  nvdimmMiB(): number {
    let bytes = 0;
    for (const d of this.data.devices) {
      if (d.origin === 'hot' && isNvdimm(d)) bytes += d.placement.sizeBytes ?? 0;
    }
    return Math.ceil(bytes / (1024 * 1024));
  }

  /** A fresh vCPU id (`cpu-<n>`, never reused while the sandbox lives). */
  nextVcpuId(): string {
    const id = `cpu-${this.data.nextVcpu}`;
    this.data = { ...this.data, nextVcpu: this.data.nextVcpu + 1 };
    return id;
  }

  /** Records a hot-plugged vCPU. */
  addVcpu(vcpu: VcpuEntry): void {
    this.data = { ...this.data, vcpus: [...this.data.vcpus, vcpu] };
  }

  /** Forgets a removed vCPU. */
  removeVcpu(id: string): void {
    this.data = { ...this.data, vcpus: this.data.vcpus.filter((c) => c.id !== id) };
  }

  /** Records a hot-plugged DIMM (and counts its MiB as hot-plugged memory). */
  addDimm(dimm: DimmEntry): void {
    this.data = {
      ...this.data,
      dimms: [...this.data.dimms, dimm],
      hotpluggedMemoryMiB: this.data.hotpluggedMemoryMiB + dimm.sizeMiB,
    };
  }

  /** Records (or clears) the virtio-mem device. */
  setVirtioMem(vm: VirtioMemEntry | null): void {
    this.data = { ...this.data, virtioMem: vm };
  }

  /** Sets the hot-plugged total directly (virtio-mem's requested size). */
  setHotpluggedMemoryMiB(mib: number): void {
    this.data = { ...this.data, hotpluggedMemoryMiB: mib };
  }
}

/** Whether an entry is an nvdimm (a memory-slot device). */
function isNvdimm(d: DeviceEntry): boolean {
  return d.spec.kind === 'block' && (d.spec.driver === 'nvdimm' || d.spec.pmem === true);
}
