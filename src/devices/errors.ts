// Errors of the device layer: the bridge/slot allocator and the device record.
import { VmactorError } from '../errors/vmactor-error.js';

/** No bridge of the requested type exists (e.g. `default_bridges = 0`, or a CCW device on amd64). */
export class NoBridgeError extends VmactorError {
  override readonly name = 'NoBridgeError' as const;
  readonly code = 'ERR_PLAN_NO_BRIDGE' as const;
}

/** Every slot of every bridge of the requested type is taken. */
export class BridgeFullError extends VmactorError {
  override readonly name = 'BridgeFullError' as const;
  readonly code = 'ERR_PLAN_BRIDGE_FULL' as const;
}

/** A device id is already plugged into a bridge, or is not on any bridge when removed. */
export class BridgeDeviceError extends VmactorError {
  override readonly name = 'BridgeDeviceError' as const;
  readonly code = 'ERR_PLAN_BRIDGE_DEVICE' as const;
}

/** `fromJSON()` got data of a version this code does not read (or not a record at all). */
export class DeviceRecordVersionError extends VmactorError {
  override readonly name = 'DeviceRecordVersionError' as const;
  readonly code = 'ERR_DEVICE_RECORD_VERSION' as const;
  constructor(readonly version: unknown) {
    super(`Expected a device record of version 1, got \`${JSON.stringify(version) ?? String(version)}\``);
  }
}
