// The recorded hot-plug state of one sandbox: devices, bridge slots, vCPUs, DIMMs; JSON-serializable.
import {
  addDeviceToBridge,
  type BridgeSlot,
  type BridgeState,
  type BridgeType,
  removeDeviceFromBridge,
} from '../qemu/bridges.js';

/** Block drivers a hot-plugged disk can use. */
export type HotplugBlockDriver = 'virtio-blk' | 'virtio-scsi' | 'nvdimm' | 'virtio-blk-ccw';

/** Where a device sits: a bridge slot (`bb/ss`), a CCW devno, a root port, the root bus, a SCSI bus. */
export interface DevicePlacement {
  /** QEMU bus id (bridge id, root port id, `scsi0.0`); absent for the root bus / memory devices. */
  readonly bus?: string;
  /** Slot on the bridge, hex (`'01'`), PCI only. */
  readonly addr?: string;
  /** PCI path `bb/ss` as the seeds format it (bridge slots only). */
  readonly pciPath?: string;
  /** CCW device number `fe.<ssid>.<devno>`. */
  readonly devno?: string;
  /** True when a bridge slot was allocated (released on unplug). */
  readonly bridgeSlot?: boolean;
}

interface RecordedBase extends DevicePlacement {
  /** The QEMU device id (`/machine/peripheral/<id>`). */
  readonly id: string;
  /** Set when device_del was accepted but `DEVICE_DELETED` has not been seen yet. */
  readonly pendingRemoval?: boolean;
}

/** A hot-plugged disk. */
export interface RecordedBlock extends RecordedBase {
  readonly kind: 'block';
  readonly driver: HotplugBlockDriver;
  readonly file: string;
  /** Block node (`drive-<id>`); absent for nvdimm. */
  readonly nodeName?: string;
  /** SCSI drive index and its id/LUN (virtio-scsi). */
  readonly scsi?: { readonly index: number; readonly scsiId: number; readonly lun: number };
  /** nvdimm backend object and size. */
  readonly nvdimm?: { readonly backendId: string; readonly sizeBytes: number; readonly pmem: boolean };
}

/** A hot-plugged vhost-user-blk device. */
export interface RecordedVhostUserBlk extends RecordedBase {
  readonly kind: 'vhost-user-blk';
  readonly chardevId: string;
  readonly socketPath: string;
}

/** A hot-plugged NIC. */
export interface RecordedNet extends RecordedBase {
  readonly kind: 'net';
  readonly netdevId: string;
  readonly mac?: string;
  readonly queues: number;
}

/** A hot-plugged VFIO device. */
export interface RecordedVfio extends RecordedBase {
  readonly kind: 'vfio';
  readonly host: string;
  readonly mediated: boolean;
  /** On the root bus (or a root port) instead of a bridge. */
  readonly rootBus: boolean;
}

/** A hot-plugged device (not vCPUs and DIMMs, which have their own lists). */
export type RecordedDevice = RecordedBlock | RecordedVhostUserBlk | RecordedNet | RecordedVfio;

/** A hot-plugged vCPU (the seeds' `CPUDevice`, plus where QEMU put it). */
export interface RecordedVcpu {
  readonly id: string;
  readonly props: Readonly<Record<string, number>>;
}

/** A hot-plugged pc-dimm and its backend. */
export interface RecordedDimm {
  /** Device id `dimm<backendId>` (govmm's naming). */
  readonly id: string;
  /** Backend object id `mem<slot>`. */
  readonly backendId: string;
  readonly slot: number;
  readonly sizeMiB: number;
  /** Guest-physical address (when probed). */
  readonly addr?: number;
}

/** The virtio-mem device set up at start. */
export interface RecordedVirtioMem {
  readonly id: string;
  readonly backendId: string;
  /** Size of the backend (the most virtio-mem can plug), MiB. */
  readonly regionMiB: number;
  /** Current `requested-size`, MiB. */
  readonly requestedMiB: number;
  readonly placement: DevicePlacement;
}

/** Plain JSON form of a {@link DeviceState} (persisted with the sandbox). */
export interface DeviceStateData {
  readonly version: 1;
  readonly bridges: BridgeState[];
  /** PCIe root port ids → device id using it (or null). */
  readonly rootPorts: Record<string, string | null>;
  readonly devices: RecordedDevice[];
  readonly vcpus: RecordedVcpu[];
  /** Counter for vCPU ids (`cpu-<n>`), never reused while the sandbox lives. */
  readonly nextVcpu: number;
  readonly dimms: RecordedDimm[];
  /** MiB hot-plugged so far (DIMMs, or virtio-mem's requested size): the seeds' HotpluggedMemory. */
  readonly hotpluggedMemoryMiB: number;
  readonly virtioMem: RecordedVirtioMem | null;
  /** Drive indexes taken by cold-plugged disks (SCSI id/LUN must not collide with them). */
  readonly reservedBlockIndexes: number[];
}

/** Options of {@link DeviceState.create}. */
export interface DeviceStateInit {
  /** The bridges after cold-plug (the plan's `bridges`). */
  readonly bridges?: readonly BridgeState[];
  /** Number of PCIe root ports the plan created (`rp0`, `rp1`, ...). */
  readonly pcieRootPorts?: number;
  /** Drive indexes cold-plugged disks use (e.g. `[0]` when the rootfs image is on SCSI). */
  readonly reservedBlockIndexes?: readonly number[];
}

/**
 * What has been hot-plugged into one sandbox: devices with their slots, vCPUs, DIMMs, virtio-mem.
 * Mutated only by the hotplug operations, one at a time; `toJSON()`/`fromJSON()` persist it.
 *
 * @example
 * const state = DeviceState.create({ bridges: plan.bridges, pcieRootPorts: 2 });
 * await runOperation({ qmp, state, config, signal, emit }, { kind: 'hotplug-block', id: 'd1', file });
 * state.device('d1')?.pciPath; // '02/01'
 */
export class DeviceState {
  private data: DeviceStateData;

  private constructor(data: DeviceStateData) {
    this.data = data;
  }

  /** A fresh state continuing from the plan's bridges. */
  static create(init: DeviceStateInit = {}): DeviceState {
    const rootPorts: Record<string, string | null> = {};
    for (let i = 0; i < (init.pcieRootPorts ?? 0); i++) rootPorts[`rp${i}`] = null;
    return new DeviceState({
      version: 1,
      bridges: structuredClone([...(init.bridges ?? [])]),
      rootPorts,
      devices: [],
      vcpus: [],
      nextVcpu: 0,
      dimms: [],
      hotpluggedMemoryMiB: 0,
      virtioMem: null,
      reservedBlockIndexes: [...(init.reservedBlockIndexes ?? [])],
    });
  }

  /** Restores a state saved with `toJSON()`. */
  static fromJSON(data: DeviceStateData): DeviceState {
    if (data.version !== 1)
      throw new Error(`Expected device state version 1, got \`${String(data.version)}\``);
    return new DeviceState(structuredClone(data));
  }

  /** A deep copy of the plain data. */
  toJSON(): DeviceStateData {
    return structuredClone(this.data);
  }

  /** Bridges with their occupied slots. */
  get bridges(): readonly BridgeState[] {
    return this.data.bridges;
  }

  /** Hot-plugged devices in plug order. */
  get devices(): readonly RecordedDevice[] {
    return this.data.devices;
  }

  /** Hot-plugged vCPUs, oldest first. */
  get vcpus(): readonly RecordedVcpu[] {
    return this.data.vcpus;
  }

  /** Hot-plugged DIMMs, oldest first. */
  get dimms(): readonly RecordedDimm[] {
    return this.data.dimms;
  }

  /** MiB hot-plugged (DIMMs or virtio-mem). */
  get hotpluggedMemoryMiB(): number {
    return this.data.hotpluggedMemoryMiB;
  }

  get virtioMem(): RecordedVirtioMem | null {
    return this.data.virtioMem;
  }

  get rootPorts(): Readonly<Record<string, string | null>> {
    return this.data.rootPorts;
  }

  get reservedBlockIndexes(): readonly number[] {
    return this.data.reservedBlockIndexes;
  }

  /** The recorded device with this id. */
  device(id: string): RecordedDevice | undefined {
    return this.data.devices.find((d) => d.id === id);
  }

  /** Whether any recorded device, vCPU or DIMM uses this QEMU id. */
  hasId(id: string): boolean {
    return (
      this.device(id) !== undefined ||
      this.data.vcpus.some((c) => c.id === id) ||
      this.data.dimms.some((d) => d.id === id || d.backendId === id) ||
      this.data.virtioMem?.id === id
    );
  }

  /** Bridge type used for PCI hot-plug here (`pci` or `pcie`), or `ccw`; undefined without bridges. */
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

  /** Takes a bridge slot (Kata's addDeviceToBridge); throws the allocator's typed errors. */
  allocateSlot(deviceId: string, type: BridgeType): BridgeSlot {
    const slot = addDeviceToBridge(this.data.bridges, deviceId, type);
    this.data = { ...this.data, bridges: slot.bridges };
    return slot;
  }

  /** Frees a device's bridge slot (no-op when it holds none). */
  releaseSlot(deviceId: string): void {
    const holds = this.data.bridges.some((b) => Object.values(b.devices).includes(deviceId));
    if (!holds) return;
    this.data = { ...this.data, bridges: removeDeviceFromBridge(this.data.bridges, deviceId) };
  }

  /** Takes the first free PCIe root port. */
  takeRootPort(deviceId: string): string | undefined {
    const port = Object.keys(this.data.rootPorts).find((p) => this.data.rootPorts[p] === null);
    if (port === undefined) return undefined;
    this.data = { ...this.data, rootPorts: { ...this.data.rootPorts, [port]: deviceId } };
    return port;
  }

  /** Frees the root port a device used. */
  releaseRootPort(deviceId: string): void {
    const rootPorts = { ...this.data.rootPorts };
    for (const [p, id] of Object.entries(rootPorts)) if (id === deviceId) rootPorts[p] = null;
    this.data = { ...this.data, rootPorts };
  }

  /** The lowest drive index not used by a cold-plugged or hot-plugged SCSI disk. */
  nextBlockIndex(): number {
    const used = new Set<number>(this.data.reservedBlockIndexes);
    for (const d of this.data.devices) if (d.kind === 'block' && d.scsi) used.add(d.scsi.index);
    let i = 0;
    while (used.has(i)) i++;
    return i;
  }

  /** Records a plugged device. */
  addDevice(device: RecordedDevice): void {
    this.data = { ...this.data, devices: [...this.data.devices, device] };
  }

  /** Marks a device whose device_del was accepted but whose `DEVICE_DELETED` is outstanding. */
  markPendingRemoval(id: string): void {
    this.data = {
      ...this.data,
      devices: this.data.devices.map((d) => (d.id === id ? { ...d, pendingRemoval: true } : d)),
    };
  }

  /** Forgets a device (its slot is released separately). */
  removeDevice(id: string): void {
    this.data = { ...this.data, devices: this.data.devices.filter((d) => d.id !== id) };
  }

  /** A fresh vCPU id (`cpu-<n>`). */
  nextVcpuId(): string {
    const id = `cpu-${this.data.nextVcpu}`;
    this.data = { ...this.data, nextVcpu: this.data.nextVcpu + 1 };
    return id;
  }

  addVcpu(vcpu: RecordedVcpu): void {
    this.data = { ...this.data, vcpus: [...this.data.vcpus, vcpu] };
  }

  removeVcpu(id: string): void {
    this.data = { ...this.data, vcpus: this.data.vcpus.filter((c) => c.id !== id) };
  }

  addDimm(dimm: RecordedDimm): void {
    this.data = {
      ...this.data,
      dimms: [...this.data.dimms, dimm],
      hotpluggedMemoryMiB: this.data.hotpluggedMemoryMiB + dimm.sizeMiB,
    };
  }

  setVirtioMem(vm: RecordedVirtioMem | null): void {
    this.data = { ...this.data, virtioMem: vm };
  }

  /** Sets the hot-plugged total directly (virtio-mem's requested size). */
  setHotpluggedMemoryMiB(mib: number): void {
    this.data = { ...this.data, hotpluggedMemoryMiB: mib };
  }

  /** Memory slots in use by hot-plugged DIMMs and nvdimms. */
  memorySlotsUsed(): number {
    return this.data.dimms.length + this.data.devices.filter((d) => d.kind === 'block' && d.nvdimm).length;
  }

  /** MiB of nvdimm backends (they take room below maxmem). */
  nvdimmMiB(): number {
    let bytes = 0;
    for (const d of this.data.devices) if (d.kind === 'block' && d.nvdimm) bytes += d.nvdimm.sizeBytes;
    return Math.ceil(bytes / (1024 * 1024));
  }
}
