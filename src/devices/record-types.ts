// The device record's data: every cold- and hot-plugged device of one sandbox with its placement.
// Plain JSON (a version field, no class instances): persisted in the run dir's state.json.
import type { DeviceSpec } from './spec.js';

/** Where a device sits. Every field is optional: which apply depends on the bus. */
export interface Placement {
  /** QEMU bus id: a bridge (`pci-bridge-0`), a root port (`rp0`), `scsi0.0`, a root bus (`pcie.0`). */
  readonly bus?: string;
  /** Slot on that bus, hex (`'01'`); PCI only. */
  readonly addr?: string;
  /** Kata's PCI path `bb/ss` (bridge slot on the root bus / slot on the bridge). */
  readonly pciPath?: string;
  /** CCW device number `fe.<ssid>.<devno>` (s390x). */
  readonly devno?: string;
  /** virtio-scsi: the drive index on the controller and its target id / LUN (Kata's GetSCSIIdLun). */
  readonly scsi?: { readonly index: number; readonly scsiId: number; readonly lun: number };
  /** Memory-slot devices (nvdimm, pc-dimm): the slot used. */
  readonly memSlot?: number;
  /** Memory-slot devices: bytes they map below maxmem (an nvdimm's backend size). */
  readonly sizeBytes?: number;
  /** True when a bridge slot was allocated for it (released on unplug). */
  readonly bridgeSlot?: boolean;
}

/** The QEMU objects behind a device, removed after `DEVICE_DELETED` (newest first). */
export interface DeviceBackends {
  /** Block node (`blockdev-del`). */
  readonly node?: string;
  /** Netdev id (`netdev_del`). */
  readonly netdev?: string;
  /** Chardev id (`chardev-remove`). */
  readonly chardev?: string;
  /** QOM objects (`object-del`), e.g. an nvdimm's memory backend or an rng's source. */
  readonly objects?: readonly string[];
  /** Monitor fd names taken with `getfd` (`closefd` after the netdev is gone). */
  readonly fdNames?: readonly string[];
}

/** One device of the sandbox: what the user asked for, where it went, what backs it. */
export interface DeviceEntry {
  /** The device id (`/machine/peripheral/<id>`), the spec's `id`. */
  readonly id: string;
  /** Cold-plugged on the command line, or hot-plugged over QMP. */
  readonly origin: 'cold' | 'hot';
  /** The validated spec, defaults applied. */
  readonly spec: DeviceSpec;
  readonly placement: Placement;
  readonly backends: DeviceBackends;
  /** The guest's name for it once the guest reported it (`vdb`, `sda`, `eth1`). */
  readonly guestPath?: string;
  /** `device_del` accepted, `DEVICE_DELETED` not seen yet. */
  readonly pendingRemoval?: boolean;
}

/** A hot-plugged vCPU (Kata's `CPUDevice`, plus QEMU's socket/core/thread props). */
export interface VcpuEntry {
  readonly id: string;
  readonly props: Readonly<Record<string, number>>;
}

/** A hot-plugged pc-dimm and its backend. */
export interface DimmEntry {
  /** Device id `dimm<backendId>` (govmm's naming). */
  readonly id: string;
  /** Backend object id `mem<slot>`. */
  readonly backendId: string;
  readonly slot: number;
  readonly sizeMiB: number;
  /** Guest-physical address (when probed). */
  readonly addr?: number;
}

/** The virtio-mem device set up when the sandbox first runs. */
export interface VirtioMemEntry {
  readonly id: string;
  readonly backendId: string;
  /** Size of the backend (the most virtio-mem can plug), MiB. */
  readonly regionMiB: number;
  /** Current `requested-size`, MiB. */
  readonly requestedMiB: number;
  readonly placement: Placement;
}

/** A bridge (PCI, PCIe or the CCW subchannel set) and its occupied slots: slot → device id. */
export interface BridgeEntry {
  /** QEMU id, e.g. `pci-bridge-0` (Kata: `<type>-bridge-<n>`). */
  readonly id: string;
  readonly type: 'pci' | 'pcie' | 'ccw';
  /** Root bus the bridge sits on (`pci.0`, `pcie.0`); none for CCW. */
  readonly bus: string | undefined;
  /** Slot on the root bus (PCI), or the subchannel set (CCW). */
  readonly addr: number;
  /** Unique chassis number (> 0) of a PCI bridge. */
  readonly chassis: number;
  readonly maxCapacity: number;
  /** Occupied slots: slot number (decimal string key) → device id. */
  readonly devices: Readonly<Record<string, string>>;
}

/** The device record of one sandbox (JSON; version 1). */
export interface DeviceRecordData {
  readonly version: 1;
  readonly devices: readonly DeviceEntry[];
  readonly bridges: readonly BridgeEntry[];
  /** PCIe root port ids → the device id using it (or null). */
  readonly rootPorts: Readonly<Record<string, string | null>>;
  readonly vcpus: readonly VcpuEntry[];
  /** Counter for vCPU ids (`cpu-<n>`), never reused while the sandbox lives. */
  readonly nextVcpu: number;
  readonly dimms: readonly DimmEntry[];
  /** MiB hot-plugged so far (DIMMs or virtio-mem's requested size): Kata's `HotpluggedMemory`. */
  readonly hotpluggedMemoryMiB: number;
  readonly virtioMem: VirtioMemEntry | null;
}
