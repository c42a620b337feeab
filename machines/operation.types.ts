// Modifying operations of a running sandbox as plain data (no I/O, no classes).
import type { DeviceSpec } from '../src/devices/spec.js';
//
// The sandbox machine is generic over these: it only queues them, runs them one at a time through the
// `runOperation` actor and reports their phases. The hotplug/resize layer (src/) interprets them.
// Fields beyond `kind` are refined by the hotplug work (issue 5); keep them JSON-serializable.

/**
 * A block device hot-plugged as virtio-blk (on a bridge slot), virtio-scsi (`scsi-hd`, SCSI id and
 * LUN from the drive index), nvdimm (size from the file, or BLKGETSIZE64 for a block device) or
 * virtio-blk-ccw. The QEMU device id is `id`; the block node is `drive-<id>`.
 */
export interface HotplugBlockOperation {
  readonly kind: 'hotplug-block';
  /** Device id, unique within the sandbox (QEMU `id=`): `^[A-Za-z][A-Za-z0-9_.-]{0,24}$`. */
  readonly id: string;
  /** Host file or block device backing the disk. */
  readonly file: string;
  /** Image format; default `raw`. */
  readonly format?: 'raw' | 'qcow2';
  /** Driver; default the hypervisor's `blockDeviceDriver`. */
  readonly driver?: 'virtio-blk' | 'virtio-scsi' | 'nvdimm' | 'virtio-blk-ccw';
  readonly readOnly?: boolean;
  /** `share-rw=on` (several writers, e.g. the same file on two devices). */
  readonly shareRw?: boolean;
  /** Cache options; default the hypervisor's `blockDeviceCache*` (only when `blockDeviceCacheSet`). */
  readonly cache?: { readonly direct?: boolean; readonly noFlush?: boolean };
  /** Persistent memory (`pmem=on` on the nvdimm backend); implies the nvdimm path as in the seeds. */
  readonly pmem?: boolean;
}

/** A vhost-user-blk device backed by a vhost-user socket (chardev-add + device_add on a bridge slot). */
export interface HotplugVhostUserBlkOperation {
  readonly kind: 'hotplug-vhost-user-blk';
  /** Device id (chardev `char-<id>`). */
  readonly id: string;
  /** Path of the vhost-user backend's Unix socket (≤ 107 bytes). */
  readonly socketPath: string;
}

/**
 * A virtio-net NIC on a tap device: either pre-opened tap fds (one per queue, passed with
 * SCM_RIGHTS and `getfd`, plus vhost fds when present) or an interface name QEMU opens itself.
 * The caller keeps ownership of the fds it passes (QEMU receives duplicates).
 */
export interface HotplugNetOperation {
  readonly kind: 'hotplug-net';
  /** Device id (netdev `net-<id>`). */
  readonly id: string;
  /** Tap interface name QEMU opens (`ifname=`) when no `fds` are given. */
  readonly ifname?: string;
  /** Open tap fds, one per queue. */
  readonly fds?: readonly number[];
  /** Open /dev/vhost-net fds, one per queue (vhost=on). */
  readonly vhostFds?: readonly number[];
  /** Guest MAC `aa:bb:cc:dd:ee:ff`. */
  readonly mac?: string;
  /** Queue pairs for `mq=on,vectors=2N+2`; default the number of fds (Kata passes its vCPU count). */
  readonly queues?: number;
}

/** A VFIO device: a host PCI function (`host` BDF) or a mediated device (`host` = sysfs path). */
export interface HotplugVfioOperation {
  readonly kind: 'hotplug-vfio';
  readonly id: string;
  /** Host BDF such as `0000:01:00.0`, or a mediated device sysfs path (`/sys/bus/mdev/devices/<uuid>`). */
  readonly host: string;
  /** Mediated device (`sysfsdev=`); default: `host` starts with `/`. */
  readonly mediated?: boolean;
  /** The device is PCIe (on q35 it then wants a PCIe root port, as the seeds warn). */
  readonly pcie?: boolean;
}

/** A pc-dimm of `mib` MiB on the next free memory slot (the seeds' hotplugAddMemory). */
export interface HotplugMemoryOperation {
  readonly kind: 'hotplug-memory';
  readonly mib: number;
  /** Report the new DIMM's guest-physical address (for guests that need the probe interface). */
  readonly probe?: boolean;
}

/**
 * Removal of a previously hot-plugged device: device_del → `DEVICE_DELETED` → backend removal
 * (blockdev-del / netdev_del / chardev-remove / object-del) → slot release.
 */
export interface UnplugOperation {
  readonly kind: 'unplug';
  readonly id: string;
  /** Deadline for `DEVICE_DELETED` after `device_del`, ms; default the sandbox's. */
  readonly deviceDeletedMs?: number;
}

/** Resize guest memory to a total in MiB (pc-dimm, or virtio-mem's `requested-size`); seeds' resizeMemory. */
export interface ResizeMemoryOperation {
  readonly kind: 'resize-memory';
  readonly mib: number;
  /** Guest memory block size for alignment (calcHotplugMemMiBSize); default 0 (no alignment). */
  readonly memoryBlockSizeMiB?: number;
  readonly probe?: boolean;
}

/** Resize the number of vCPUs (hot-add up to max vCPUs, or remove the most recently added). */
export interface ResizeVcpusOperation {
  readonly kind: 'resize-vcpus';
  readonly count: number;
  /**
   * Refuse (capacity error, before any QMP) instead of clamping to max vCPUs. Default false: the
   * seeds clamp with a warning and report how many were added.
   */
  readonly strict?: boolean;
}

/** Save the VM as a template (migrate to file), as the seeds' template factory does. */
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

/** Every modifying operation the sandbox machine serializes. */
/**
 * The seeds' setupVirtioMem: a virtio-mem backend of (host − boot) MiB (capped by maxmem) and a
 * `virtio-mem-pci` with `requested-size=0`. `createSandbox` queues it when the sandbox first runs
 * and `virtioMem` is on, so later resize-memory operations (serialized behind it) can use it.
 */
export interface SetupVirtioMemOperation {
  readonly kind: 'setup-virtio-mem';
}

export type SandboxOperation =
  | HotplugDeviceOperation
  | HotplugBlockOperation
  | SetupVirtioMemOperation
  | HotplugVhostUserBlkOperation
  | HotplugNetOperation
  | HotplugVfioOperation
  | HotplugMemoryOperation
  | UnplugOperation
  | ResizeMemoryOperation
  | ResizeVcpusOperation
  | SaveTemplateOperation
  | DumpOperation;

/** The discriminant of {@link SandboxOperation}. */
export type SandboxOperationKind = SandboxOperation['kind'];
