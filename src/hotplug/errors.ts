// Typed errors of hot-plug and resize operations; each says whether earlier steps were undone.
import { VmactorError } from '../errors/vmactor-error.js';

/** Options shared by every hot-plug error. */
export interface HotplugErrorOptions {
  readonly cause?: unknown;
  /** True when every earlier step (blockdev, chardev, netdev, object, slot) was undone. */
  readonly rolledBack?: boolean;
}

/** Base of the hot-plug errors: `rolledBack` tells the sandbox machine to emit `rolled-back`. */
export abstract class HotplugError extends VmactorError {
  /** True when the operation undid every step it had done (QEMU and our records as before). */
  rolledBack: boolean;

  constructor(message: string, options: HotplugErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.rolledBack = options.rolledBack ?? false;
  }
}

/** The operation is malformed (bad id, missing file, bad MAC, ...); nothing was sent to QEMU. */
export class HotplugInputError extends HotplugError {
  override readonly name = 'HotplugInputError' as const;
  readonly code = 'ERR_HOTPLUG_INVALID' as const;
}

/** A device with this id is already recorded for the sandbox; nothing was sent to QEMU. */
export class DuplicateDeviceError extends HotplugError {
  override readonly name = 'DuplicateDeviceError' as const;
  readonly code = 'ERR_HOTPLUG_DUPLICATE_ID' as const;
  constructor(readonly deviceId: string) {
    super(`Expected a new device id, got \`${deviceId}\` which is already plugged`);
  }
}

/** Unplug of an id that was never hot-plugged (or was already removed). */
export class UnknownDeviceError extends HotplugError {
  override readonly name = 'UnknownDeviceError' as const;
  readonly code = 'ERR_HOTPLUG_UNKNOWN_DEVICE' as const;
  constructor(readonly deviceId: string) {
    super(`Expected \`${deviceId}\` to be a hot-plugged device, but no such device is recorded`);
  }
}

/** What ran out: checked before any QMP command. */
export type CapacityResource =
  | 'bridge-slots'
  | 'root-ports'
  | 'memory-slots'
  | 'maxmem'
  | 'host-memory'
  | 'virtio-mem'
  | 'maxcpus'
  | 'hotplugged-cpus'
  | 'scsi-ids';

/** A capacity guard refused the operation before any QMP command (bridge slots, memory, vCPUs). */
export class HotplugCapacityError extends HotplugError {
  override readonly name = 'HotplugCapacityError' as const;
  readonly code = 'ERR_HOTPLUG_NO_CAPACITY' as const;
  constructor(
    readonly resource: CapacityResource,
    message: string,
  ) {
    super(message);
  }
}

/** QEMU refused a step (its `class`/`desc` kept); earlier steps were undone (`rolledBack`). */
export class HotplugRefusedError extends HotplugError {
  override readonly name = 'HotplugRefusedError' as const;
  readonly code = 'ERR_HOTPLUG_REFUSED' as const;
  constructor(
    /** The step QEMU refused, e.g. `device_add virtio-blk-pci`. */
    readonly step: string,
    /** QEMU's description of why. */
    readonly desc: string,
    options: HotplugErrorOptions = {},
  ) {
    super(`QEMU refused \`${step}\`: ${desc}`, options);
  }
}

/** QEMU could not open the VFIO device (no such host device, no IOMMU group, not bound to vfio-pci). */
export class VfioDeviceError extends HotplugError {
  override readonly name = 'VfioDeviceError' as const;
  readonly code = 'ERR_HOTPLUG_VFIO' as const;
  constructor(
    readonly host: string,
    readonly desc: string,
    options: HotplugErrorOptions = {},
  ) {
    super(`QEMU could not attach VFIO device \`${host}\`: ${desc}`, options);
  }
}

/** Phase two did not happen in time (the guest did not see the device, or no `DEVICE_DELETED`). */
export class HotplugTimeoutError extends HotplugError {
  override readonly name = 'HotplugTimeoutError' as const;
  readonly code = 'ERR_HOTPLUG_TIMEOUT' as const;
  constructor(
    readonly waitingFor: string,
    readonly timeoutMs: number,
    options: HotplugErrorOptions = {},
  ) {
    super(`Hot-plug: ${waitingFor} did not happen within ${timeoutMs} ms`, options);
  }
}

/** The operation was pre-empted (STOP): steps done so far were undone where QEMU still answered. */
export class HotplugAbortedError extends HotplugError {
  override readonly name = 'HotplugAbortedError' as const;
  readonly code = 'ERR_HOTPLUG_ABORTED' as const;
}

/** The operation is not possible with this driver/machine (nvdimm unplug, virtio-mmio hotplug, ...). */
export class HotplugNotSupportedError extends HotplugError {
  override readonly name = 'HotplugNotSupportedError' as const;
  readonly code = 'ERR_HOTPLUG_NOT_SUPPORTED' as const;
}

/** vCPU hot-add/remove stopped part-way (the seeds' "only N of M were added"); `done` were kept. */
export class VcpuHotplugError extends HotplugError {
  override readonly name = 'VcpuHotplugError' as const;
  readonly code = 'ERR_HOTPLUG_VCPUS' as const;
  constructor(
    message: string,
    /** vCPUs added (or removed) before the failure; they stay. */
    readonly done: number,
    options: HotplugErrorOptions = {},
  ) {
    super(message, options);
  }
}
