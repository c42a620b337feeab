// Typed errors of hot-plug and resize operations. Each failure has exactly one `code`; what
// happened to the steps already done is told by the class, never by a flag:
//
// - Refused before any QMP command (nothing was done): `HotplugInputError`, `DuplicateDeviceError`,
//   `UnknownDeviceError`, `HotplugCapacityError`, `HotplugNotSupportedError`.
// - `HotplugRolledBackError` (abstract) and its subclasses `HotplugRefusedError`,
//   `VfioDeviceError`, `HotplugCommandTimeoutError`, `HotplugAbortedError`: a step failed and
//   every earlier step was undone — QEMU and the device record are as before the operation. The
//   sandbox machine emits `failed` then `rolled-back` for exactly these.
// - `HotplugRollbackIncompleteError`: a step failed and undoing the earlier ones did not finish
//   (what is left stays recorded, as a pending removal where it can be).
// - Kept: `HotplugTimeoutError` (QEMU did it, phase two — the guest seeing it, or
//   `DEVICE_DELETED` — did not happen in time; the change stays recorded), `HotplugCleanupError`
//   (the device is gone, removing its backend failed; retried by the next operation),
//   `VcpuHotplugError` (vCPU resize stopped part-way; those done stay).
import { VmactorError } from '../errors/vmactor-error.js';

/** Base of every hot-plug error (its class says what happened to the steps done so far). */
export abstract class HotplugError extends VmactorError {}

/** The operation or its `DeviceSpec` is malformed; nothing was sent to QEMU. `issues` lists every problem. */
export class HotplugInputError extends HotplugError {
  override readonly name = 'HotplugInputError' as const;
  readonly code = 'ERR_HOTPLUG_INVALID' as const;
  /** Every problem found, each ``Expected `path` to be …, got `x` ``. */
  readonly issues: readonly string[];
  constructor(issues: string | readonly string[], options?: { cause?: unknown }) {
    const list = typeof issues === 'string' ? [issues] : issues;
    super(list.join('; '), options);
    this.issues = list;
  }
}

/** A device with this id is already recorded for the sandbox; nothing was sent to QEMU. */
export class DuplicateDeviceError extends HotplugError {
  override readonly name = 'DuplicateDeviceError' as const;
  readonly code = 'ERR_HOTPLUG_DUPLICATE_ID' as const;
  constructor(readonly deviceId: string) {
    super(`Expected a new device id, got \`${deviceId}\` which is already plugged`);
  }
}

/** Unplug of an id the device record does not have (never plugged, or already removed). */
export class UnknownDeviceError extends HotplugError {
  override readonly name = 'UnknownDeviceError' as const;
  readonly code = 'ERR_HOTPLUG_UNKNOWN_DEVICE' as const;
  constructor(readonly deviceId: string) {
    super(`Expected \`${deviceId}\` to be a device of the sandbox, but no such device is recorded`);
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

/** Not possible with this device kind, driver or machine (rng hot plug, nvdimm unplug, ...); before any QMP. */
export class HotplugNotSupportedError extends HotplugError {
  override readonly name = 'HotplugNotSupportedError' as const;
  readonly code = 'ERR_HOTPLUG_NOT_SUPPORTED' as const;
}

/** A step failed and every earlier step was undone: QEMU and the device record are as before. */
export abstract class HotplugRolledBackError extends HotplugError {}

/** QEMU refused a step (its `desc` kept); earlier steps were undone. */
export class HotplugRefusedError extends HotplugRolledBackError {
  override readonly name = 'HotplugRefusedError' as const;
  readonly code = 'ERR_HOTPLUG_REFUSED' as const;
  constructor(
    /** The step QEMU refused, e.g. `device_add scsi-hd`. */
    readonly step: string,
    /** QEMU's description of why. */
    readonly desc: string,
    options?: { cause?: unknown },
  ) {
    super(`QEMU refused \`${step}\`: ${desc}`, options);
  }
}

/** QEMU could not open the VFIO device (no such host device, no IOMMU group, ...); slot released. */
export class VfioDeviceError extends HotplugRolledBackError {
  override readonly name = 'VfioDeviceError' as const;
  readonly code = 'ERR_HOTPLUG_VFIO' as const;
  constructor(
    /** The host device: BDF or sysfs path. */
    readonly host: string,
    readonly desc: string,
    options?: { cause?: unknown },
  ) {
    super(`QEMU could not attach VFIO device \`${host}\`: ${desc}`, options);
  }
}

/** QEMU did not answer a step within the command deadline; earlier steps (and that one) were undone. */
export class HotplugCommandTimeoutError extends HotplugRolledBackError {
  override readonly name = 'HotplugCommandTimeoutError' as const;
  readonly code = 'ERR_HOTPLUG_COMMAND_TIMEOUT' as const;
  constructor(
    readonly waitingFor: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`Hot-plug: QEMU's answer to \`${waitingFor}\` did not come within ${timeoutMs} ms`, options);
  }
}

/** STOP pre-empted the operation (or QEMU went away); what it had done was undone where QEMU answered. */
export class HotplugAbortedError extends HotplugRolledBackError {
  override readonly name = 'HotplugAbortedError' as const;
  readonly code = 'ERR_HOTPLUG_ABORTED' as const;
}

/** Why a step failed, for {@link HotplugRollbackIncompleteError}. */
export type HotplugFailure = 'refused' | 'vfio' | 'timeout' | 'aborted';

/** A step failed and undoing the earlier steps did not finish; `left` names what remains. */
export class HotplugRollbackIncompleteError extends HotplugError {
  override readonly name = 'HotplugRollbackIncompleteError' as const;
  readonly code = 'ERR_HOTPLUG_ROLLBACK_INCOMPLETE' as const;
  constructor(
    /** What failed first. */
    readonly failure: HotplugFailure,
    /** The failure's message. */
    readonly desc: string,
    /** Undo steps that did not happen (a device QEMU still has stays recorded, pending removal). */
    readonly left: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`Hot-plug failed (${desc}) and could not undo: ${left.join(', ')}`, options);
  }
}

/** Phase two did not happen in time (the guest did not see the device, or no `DEVICE_DELETED`); the change stays. */
export class HotplugTimeoutError extends HotplugError {
  override readonly name = 'HotplugTimeoutError' as const;
  readonly code = 'ERR_HOTPLUG_TIMEOUT' as const;
  constructor(
    readonly waitingFor: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`Hot-plug: ${waitingFor} did not happen within ${timeoutMs} ms`, options);
  }
}

/** The device is gone from QEMU but removing its backend failed; it stays pending and is retried. */
export class HotplugCleanupError extends HotplugError {
  override readonly name = 'HotplugCleanupError' as const;
  readonly code = 'ERR_HOTPLUG_CLEANUP' as const;
  constructor(
    readonly step: string,
    readonly desc: string,
    options?: { cause?: unknown },
  ) {
    super(`Removing a backend failed at \`${step}\`: ${desc}`, options);
  }
}

/** vCPU hot-add/remove stopped part-way (Kata's "only N of M were added"); `done` were kept. */
export class VcpuHotplugError extends HotplugError {
  override readonly name = 'VcpuHotplugError' as const;
  readonly code = 'ERR_HOTPLUG_VCPUS' as const;
  constructor(
    message: string,
    /** vCPUs added (or removed) before the failure; they stay. */
    readonly done: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
