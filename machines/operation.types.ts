// Modifying operations of a running sandbox as plain data (no I/O, no classes).
//
// The sandbox machine is generic over these: it only queues them, runs them one at a time through the
// `runOperation` actor and reports their phases. The hotplug/resize layer (src/hotplug) interprets
// them. Keep them JSON-serializable.
import type { DeviceSpec } from '../src/devices/spec.js';

/** A pc-dimm of `mib` MiB on the next free memory slot (Kata's qemu.go `hotplugAddMemory`). */
export interface HotplugMemoryOperation {
  readonly kind: 'hotplug-memory';
  readonly mib: number;
  /** Report the new DIMM's guest-physical address (for guests that need the probe interface). */
  readonly probe?: boolean;
}

/**
 * Removal of a device, cold- or hot-plugged: device_del → `DEVICE_DELETED` → backend removal
 * (blockdev-del / netdev_del / chardev-remove / object-del) → slot release.
 */
export interface UnplugOperation {
  readonly kind: 'unplug';
  readonly id: string;
  /** Deadline for `DEVICE_DELETED` after `device_del`, ms; default the sandbox's. */
  readonly deviceDeletedMs?: number;
}

/** Resize guest memory to a total in MiB (pc-dimm, or virtio-mem's `requested-size`): Kata's qemu.go `resizeMemory`. */
export interface ResizeMemoryOperation {
  readonly kind: 'resize-memory';
  readonly mib: number;
  /** Guest memory block size for alignment (Kata's `calcHotplugMemMiBSize`); default 0 (no alignment). */
  readonly memoryBlockSizeMiB?: number;
  readonly probe?: boolean;
}

/** Resize the number of vCPUs (hot-add up to max vCPUs, or remove the most recently added). */
export interface ResizeVcpusOperation {
  readonly kind: 'resize-vcpus';
  readonly count: number;
  /**
   * Refuse (capacity error, before any QMP) instead of clamping to max vCPUs. Default false: Kata's
   * qemu.go clamps with a warning and reports how many were added.
   */
  readonly strict?: boolean;
}

/** Save the VM as a template (migrate to file), as Kata's template factory does. */
export interface SaveTemplateOperation {
  readonly kind: 'save-template';
  readonly statePath: string;
  readonly memoryPath?: string;
}

/** Dump guest memory to a file (dump-guest-memory). */
export interface DumpOperation {
  readonly kind: 'dump';
  readonly path: string;
  readonly paging?: boolean;
}

/**
 * Hot plug of any device family, given as the same {@link DeviceSpec} a config's `devices` takes
 * (block, net, vhost-user, vfio, ...): the hotplug layer places it (bridge slot, SCSI id/LUN from
 * the device record, CCW devno), builds the QMP objects with the builder cold plug uses, and
 * records it. Resolves with a `HotplugResult` (`{ id, placement, guestPath? }`).
 */
export interface HotplugDeviceOperation {
  readonly kind: 'hotplug';
  readonly device: DeviceSpec;
  /** Deadline of phase two (the guest seeing the device), ms; default the sandbox's. */
  readonly guestDeadlineMs?: number;
}

/**
 * Kata's qemu.go `setupVirtioMem`: a virtio-mem backend of (host − boot) MiB (capped by maxmem) and a
 * `virtio-mem-pci` with `requested-size=0`. `createSandbox` queues it when the sandbox first runs
 * and `virtioMem` is on, so later resize-memory operations (serialized behind it) can use it.
 */
export interface SetupVirtioMemOperation {
  readonly kind: 'setup-virtio-mem';
}

/** Every modifying operation the sandbox machine serializes. */
export type SandboxOperation =
  | HotplugDeviceOperation
  | SetupVirtioMemOperation
  | HotplugMemoryOperation
  | UnplugOperation
  | ResizeMemoryOperation
  | ResizeVcpusOperation
  | SaveTemplateOperation
  | DumpOperation;

/** The discriminant of {@link SandboxOperation}. */
export type SandboxOperationKind = SandboxOperation['kind'];
