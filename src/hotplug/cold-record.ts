// The device record a sandbox starts with when the plan does not bring one (`QemuPlan.record`):
// the config's cold-plugged devices with the placements the planner gave them, and its bridges.
import type { BridgeEntry, DeviceEntry, DeviceRecordData, Placement } from '../devices/record-types.js';
import { scsiIdLun } from '../devices/rules.js';
import { type DeviceSpec, deviceSpecSchema } from '../devices/spec.js';
import { blockNodeName, chardevId, netdevId, nvdimmBackendId, SCSI_BUS } from './objects.js';

/** Where the plan put a cold-plugged device (the plan's `devices`). */
export interface PlannedPlacement {
  readonly id: string;
  readonly bus?: string;
  readonly addr?: string;
  readonly devno?: string;
}

/** What {@link coldRecord} reads. */
export interface ColdRecordInput {
  /** The validated config's devices, in config order. */
  readonly devices: readonly unknown[];
  /** The hypervisor's default block driver. */
  readonly blockDeviceDriver: string;
  /** The plan's bridges after cold plug. */
  readonly bridges: readonly BridgeEntry[];
  /** The plan's placed devices. */
  readonly planned?: readonly PlannedPlacement[];
  /** PCIe root ports the plan created. */
  readonly pcieRootPorts?: number;
}

function parseSpec(d: unknown): DeviceSpec | undefined {
  // A config block cache given as a mode string has no field in the DeviceSpec's cache object.
  const input =
    typeof d === 'object' && d !== null && typeof (d as { cache?: unknown }).cache === 'string'
      ? { ...(d as Record<string, unknown>), cache: undefined }
      : d;
  const r = deviceSpecSchema.safeParse(input);
  return r.success ? r.data : undefined;
}

function backendsOf(spec: DeviceSpec, driver: string | undefined): DeviceEntry['backends'] {
  switch (spec.kind) {
    case 'block':
      return driver === 'nvdimm' ? { objects: [nvdimmBackendId(spec.id)] } : { node: blockNodeName(spec.id) };
    case 'net':
      return { netdev: netdevId(spec.id) };
    case 'vhost-user':
      return { chardev: chardevId(spec.id) };
    default:
      return {};
  }
}

/**
 * The initial device record (version 1): every cold-plugged device as an entry of origin `cold`
 * with its placement (root-bus slot, CCW devno, and for virtio-scsi disks the drive index with
 * its scsi-id/LUN, numbered in config order as the planner does), the bridges and root ports.
 *
 * @example
 * coldRecord({ devices: [{ kind: 'block', id: 'd0', file: '/img', driver: 'virtio-scsi' }],
 *   blockDeviceDriver: 'virtio-scsi', bridges: plan.bridges }).devices[0].placement
 * // => { bus: 'scsi0.0', scsi: { index: 0, scsiId: 0, lun: 0 } }
 */
export function coldRecord(input: ColdRecordInput): DeviceRecordData {
  const devices: DeviceEntry[] = [];
  let scsiIndex = 0;
  for (const d of input.devices) {
    const spec = parseSpec(d);
    if (!spec) continue;
    const driver =
      spec.kind === 'block' ? (spec.pmem ? 'nvdimm' : (spec.driver ?? input.blockDeviceDriver)) : undefined;
    const at = input.planned?.find((p) => p.id === spec.id);
    let placement: Placement = {
      ...(at?.bus ? { bus: at.bus } : {}),
      ...(at?.addr ? { addr: at.addr } : {}),
      ...(at?.devno ? { devno: at.devno } : {}),
    };
    if (driver === 'virtio-scsi') {
      const index = scsiIndex++;
      placement = { bus: SCSI_BUS, scsi: { index, ...scsiIdLun(index) } };
    }
    devices.push({ id: spec.id, origin: 'cold', spec, placement, backends: backendsOf(spec, driver) });
  }
  const rootPorts: Record<string, string | null> = {};
  for (let i = 0; i < (input.pcieRootPorts ?? 0); i++) rootPorts[`rp${i}`] = null;
  return {
    version: 1,
    devices,
    bridges: structuredClone([...input.bridges]),
    rootPorts,
    vcpus: [],
    nextVcpu: 0,
    dimms: [],
    hotpluggedMemoryMiB: 0,
    virtioMem: null,
  };
}
