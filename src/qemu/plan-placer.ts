// Plan step "placement": root-bus slots, CCW devnos and SCSI ids for every cold-plugged device,
// the bridges after cold plug, and the record of where each device went.

import { addDeviceToBridge, type BridgeState, createBridges } from '../devices/bridges.js';
import type { Placement } from '../devices/record-types.js';
import { scsiIdLun } from '../devices/rules.js';
import type { MachineSpec } from './arch/types.js';
import { blockNodeName } from './devices/names.js';
import type { NvdimmDevice, QemuDevice, QemuDeviceType, VirtioOptions } from './devices/types.js';
import { PlanError } from './errors.js';
import { placeDevice, SCSI_BUS } from './lower-device.js';
import type { PlanSpec } from './plan-spec.js';
import type { PlannedDevice } from './plan-types.js';

/** Root-bus slots the platform occupies, per machine (q35: host bridge 00, LPC 1f; pc: 00, PIIX 01). */
const RESERVED_ROOT_SLOTS: Readonly<Record<string, readonly number[]>> = {
  pc: [0, 1],
  q35: [0, 0x1f],
  virt: [0],
  pseries: [0],
};

const PCI_CAPABLE: ReadonlySet<QemuDeviceType> = new Set<QemuDeviceType>([
  'block',
  'fs',
  'serial',
  'net',
  'vhost-user',
  'vfio',
  'scsi-controller',
  'vsock',
  'rng',
  'balloon',
  'pcie-root-port',
]);

/** pseries hands out NVDIMM space in 256 MiB blocks (SPAPR_MINIMUM_SCM_BLOCK_SIZE). */
const PSERIES_NVDIMM_ALIGN = 256 * 1024 * 1024;

/** Two hex digits, as Kata's bridge allocator and QEMU's `addr=` show slots. */
export function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Hands out root-bus slots to PCI devices without an explicit address. */
class RootBus {
  private readonly used = new Set<number>();
  constructor(
    readonly bus: string,
    reserved: readonly number[],
  ) {
    for (const s of reserved) this.used.add(s);
  }
  reserve(slot: number): void {
    this.used.add(slot);
  }
  next(forId: string): string {
    for (let s = 0; s < 32; s++) {
      if (!this.used.has(s)) {
        this.used.add(s);
        return hex2(s);
      }
    }
    throw new PlanError(
      `Expected a free slot on the root bus \`${this.bus}\` for \`${forId}\`, but all 32 are taken`,
    );
  }
}

/** The `-device` id a device gets (its QOM name under /machine/peripheral), if it has one. */
export function deviceIdOf(d: QemuDevice): string | undefined {
  switch (d.type) {
    case 'nvdimm':
      return d.deviceId;
    case 'char':
      return d.driver === 'serial' ? undefined : d.deviceId;
    case 'net':
      return d.deviceId ?? d.id;
    case 'vhost-user':
      return d.vhostType === 'net' ? d.deviceId : d.typeDevId;
    case 'rng':
      return d.deviceId;
    case 'vfio':
    case 'pvpanic':
      return d.id;
    case 'iommu':
    case 'loader':
      return undefined;
    default:
      return d.id;
  }
}

function extraInfo(d: QemuDevice): Partial<PlannedDevice> {
  switch (d.type) {
    case 'block':
      return { path: d.file, backendId: blockNodeName(d.id) };
    case 'char':
      return d.path !== undefined ? { path: d.path, backendId: d.id } : { backendId: d.id };
    case 'fs':
      return { path: d.path, tag: d.mountTag };
    case 'vhost-user':
      return { path: d.socketPath, backendId: d.charDevId, ...(d.tag !== undefined ? { tag: d.tag } : {}) };
    case 'nvdimm':
      return { path: d.memPath, backendId: d.id };
    default:
      return {};
  }
}

function isVirtioLike(d: QemuDevice): boolean {
  if (!PCI_CAPABLE.has(d.type)) return false;
  if (d.type === 'block' && d.driver === 'scsi-hd') return false;
  if (d.type === 'vfio' && d.driver !== undefined && d.driver !== 'vfio-pci') return false;
  return true;
}

/**
 * Places the sandbox's cold-plugged devices in order: bridges first at root slots 2.. (Kata's
 * bridgePCIStartAddr), then every PCI device at the next free root-bus slot, CCW devices at the
 * next devno of the subchannel set, scsi-hd disks at the SCSI id/LUN of their drive index.
 */
export class DevicePlacer {
  /** The placed devices, in command-line order. */
  readonly devices: QemuDevice[] = [];
  /** Where each placed device with an id went. */
  readonly planned: PlannedDevice[] = [];
  /** The bridges, with the CCW devnos handed out so far. */
  bridges: BridgeState[];
  /** True once an nvdimm is placed (the machine needs `nvdimm=on`). */
  nvdimm = false;
  private readonly ids = new Set<string>();
  private readonly root: RootBus | undefined;
  private scsiIndex = 0;

  constructor(
    private readonly spec: PlanSpec,
    private readonly machine: MachineSpec,
  ) {
    this.root = machine.rootBus
      ? new RootBus(machine.rootBus, RESERVED_ROOT_SLOTS[machine.type] ?? [0])
      : undefined;
    // CCW always has subchannel set 0; a machine without a PCI root bus (microvm) has no bridges,
    // as Kata's genericBridges returns none for machine types it does not know.
    const count =
      machine.bridgeType === 'ccw'
        ? Math.max(1, spec.defaultBridges)
        : machine.rootBus === undefined
          ? 0
          : spec.defaultBridges;
    this.bridges = createBridges(count, machine.bridgeType, machine.rootBus);
  }

  /** The root bus, when the machine has a PCI one. */
  get rootBus(): string | undefined {
    return this.root?.bus;
  }

  /** Refuses a second device with the same id. */
  claimId(id: string | undefined): void {
    if (id === undefined) return;
    if (this.ids.has(id)) throw new PlanError(`Expected device ids to be unique, got \`${id}\` twice`);
    this.ids.add(id);
  }

  /** Reserves a root-bus slot taken by something placed outside the allocator (a bridge). */
  reserveRootSlot(slot: number): void {
    this.root?.reserve(slot);
  }

  /** Records a device placed elsewhere (bridges), without allocating anything. */
  addPlaced(d: QemuDevice, info?: PlannedDevice): void {
    this.devices.push(d);
    if (info) this.planned.push(info);
  }

  /**
   * Allocates the placement of a device (a root-bus slot, a CCW devno, a SCSI id/LUN); explicit
   * bus/addr/devno on the device are kept (and their root slot reserved).
   */
  placementOf(d: QemuDevice): Placement {
    if (d.type === 'nvdimm') this.checkNvdimm(d);
    const id = deviceIdOf(d);
    if (d.type === 'block' && d.driver === 'scsi-hd') {
      const index = this.scsiIndex++;
      return { bus: SCSI_BUS, scsi: { index, ...scsiIdLun(index) } };
    }
    if (!isVirtioLike(d)) return {};
    const v = d as QemuDevice & VirtioOptions;
    if (
      this.machine.bridgeType === 'ccw' &&
      v.type !== 'pcie-root-port' &&
      (v.transport ?? 'ccw') === 'ccw'
    ) {
      if (v.devno !== undefined) return { devno: v.devno };
      const slot = addDeviceToBridge(this.bridges, id ?? `anon-${this.devices.length}`, 'ccw');
      this.bridges = slot.bridges;
      return { devno: slot.devno as string, bridgeSlot: true };
    }
    if (!this.root) return {};
    if (v.bus === undefined && v.addr === undefined) {
      return { bus: this.root.bus, addr: this.root.next(id ?? d.type) };
    }
    if ((v.bus === undefined || v.bus === this.root.bus) && v.addr !== undefined) {
      this.root.reserve(Number.parseInt(v.addr.split('.')[0] ?? '', 16));
    }
    return {};
  }

  /** Adds a device already at its placement (see {@link placementOf}); claims its id. */
  add(d: QemuDevice, placement: Placement): void {
    const id = deviceIdOf(d);
    this.claimId(id);
    if (d.type === 'nvdimm') this.nvdimm = true;
    this.devices.push(d);
    const info = this.infoOf(d, placement);
    if (info) this.planned.push({ ...info, ...extraInfo(d) });
  }

  /** Allocates a placement for `d`, applies it and adds the device; returns the placement. */
  place(d: QemuDevice): Placement {
    const placement = this.placementOf(d);
    const placed =
      d.type === 'pcie-root-port' && placement.addr !== undefined
        ? { ...d, bus: placement.bus, addr: placement.addr }
        : placeDevice(d, placement);
    this.add(placed, placement);
    return placement;
  }

  private infoOf(d: QemuDevice, placement: Placement): PlannedDevice | undefined {
    const id = deviceIdOf(d);
    if (id === undefined) return undefined;
    if (isVirtioLike(d)) {
      const v = d as QemuDevice & VirtioOptions;
      if (placement.devno !== undefined || v.devno !== undefined) {
        return { id, type: d.type, devno: (placement.devno ?? v.devno) as string };
      }
      if (!this.root) return undefined;
      return {
        id,
        type: d.type,
        bus: v.bus ?? this.root.bus,
        ...(v.addr !== undefined ? { addr: v.addr } : {}),
      };
    }
    if (d.type === 'char') return { id, type: d.type, ...(d.bus !== undefined ? { bus: d.bus } : {}) };
    if (d.type === 'block' && d.driver === 'scsi-hd') return { id, type: d.type, bus: d.scsi?.bus as string };
    return { id, type: d.type };
  }

  /** What QEMU would refuse about an nvdimm on this arch, refused before launch with a typed error. */
  private checkNvdimm(d: NvdimmDevice): void {
    const spec = this.spec;
    if (spec.arch === 'arm64' && spec.firmware === undefined && (spec.pflash ?? []).length === 0) {
      throw new PlanError(
        `Expected UEFI firmware (\`firmwarePath\` or \`pflash\`) for nvdimm \`${d.deviceId}\` on arm64 virt (its ACPI GED device needs it), or \`disableImageNvdimm\`/another block driver`,
      );
    }
    if (spec.arch === 'ppc64le' && d.size % PSERIES_NVDIMM_ALIGN !== 0) {
      throw new PlanError(
        `Expected the size of nvdimm \`${d.deviceId}\` (\`${d.memPath}\`) to be a multiple of 256 MiB on pseries, got ${d.size} bytes`,
      );
    }
  }
}
