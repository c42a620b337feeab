// What each operation resolves with (the `result` of the machine's `confirmed` phase): plain data.
import type { Placement } from '../devices/record-types.js';

/** How phase two was confirmed: by the guest (agent), by QEMU only (no guest probe, or paused). */
export type ConfirmedBy = 'guest' | 'qemu';

/** A device given as a `DeviceSpec` was hot-plugged (`sb.hotplug(spec)`). */
export interface HotplugResult {
  readonly kind: 'hotplug';
  readonly id: string;
  /** Where it went: bridge slot / PCI path, CCW devno, SCSI id/LUN, root port. */
  readonly placement: Placement;
  /** The guest's name for it (`vdb`, `sda`, `eth1`) when the guest confirmed. */
  readonly guestPath?: string;
  readonly confirmedBy: ConfirmedBy;
}

/** A pc-dimm was plugged (Kata's `memoryDevice`). */
export interface MemoryPlugResult {
  readonly kind: 'hotplug-memory';
  readonly id: string;
  readonly slot: number;
  readonly sizeMiB: number;
  /** Guest-physical address, when `probe` was asked. */
  readonly addr?: number;
  readonly confirmedBy: ConfirmedBy;
}

/** A device was unplugged (or its removal is pending: the VM was paused). */
export interface UnplugResult {
  readonly kind: 'unplug';
  readonly id: string;
  /** True once `DEVICE_DELETED` arrived and the backend and slot were released. */
  readonly removed: boolean;
  /** True when device_del was accepted but the guest (paused) has not acknowledged yet. */
  readonly pending: boolean;
}

/** Kata's qemu.go `resizeMemory` return values: memory after, and the memory device added. */
export interface ResizeMemoryResult {
  readonly kind: 'resize-memory';
  /** Memory before, MiB. */
  readonly previousMiB: number;
  /** Memory now, MiB (qemu.go's `currentMemory`). */
  readonly currentMiB: number;
  /** The DIMM added, if any. */
  readonly device?: {
    readonly id: string;
    readonly slot: number;
    readonly sizeMiB: number;
    readonly addr?: number;
  };
  /** How: pc-dimm, virtio-mem `requested-size`, or nothing (shrinking a DIMM VM: not supported). */
  readonly via: 'pc-dimm' | 'virtio-mem' | 'none';
  /** True when a shrink was asked on DIMMs (qemu.go warns: hot-remove not supported). */
  readonly notSupported?: boolean;
  readonly confirmedBy: ConfirmedBy;
}

/** Kata's qemu.go `resizeVCPUs` return values (`currentVCPUs` before, `newVCPUs` after) plus counts. */
export interface ResizeVcpusResult {
  readonly kind: 'resize-vcpus';
  readonly currentVCPUs: number;
  readonly newVCPUs: number;
  readonly added: number;
  readonly removed: number;
  /** True when the request was above max vCPUs and was clamped (with a warning). */
  readonly clamped: boolean;
  readonly confirmedBy: ConfirmedBy;
}

/** What `setup-virtio-mem` did: the region size and where the device sits. */
export interface SetupVirtioMemResult {
  readonly kind: 'setup-virtio-mem';
  readonly regionMiB: number;
  readonly placement: Placement;
}

/** What `runOperation` resolves with. */
export type OperationResult =
  | HotplugResult
  | SetupVirtioMemResult
  | MemoryPlugResult
  | UnplugResult
  | ResizeMemoryResult
  | ResizeVcpusResult;
