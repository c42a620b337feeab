// Typed errors of the QEMU plan: bad arch/machine, bridge capacity, paths outside the run dir.
import { MAX_SOCKET_PATH_BYTES } from '../devices/rules.js';
import { VmactorError } from '../errors/vmactor-error.js';

/** The requested arch or machine type is not in vmactor's arch tables. */
export class UnsupportedMachineError extends VmactorError {
  override readonly name = 'UnsupportedMachineError' as const;
  readonly code = 'ERR_PLAN_UNSUPPORTED_MACHINE' as const;
}

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

/** A path derived for the sandbox would leave its run dir. */
export class PathEscapeError extends VmactorError {
  override readonly name = 'PathEscapeError' as const;
  readonly code = 'ERR_PLAN_PATH_ESCAPE' as const;
}

/** A Unix socket path is longer than the 107 bytes `sockaddr_un.sun_path` can hold. */
export class SocketPathTooLongError extends VmactorError {
  override readonly name = 'SocketPathTooLongError' as const;
  readonly code = 'ERR_PLAN_SOCKET_PATH_TOO_LONG' as const;
  constructor(
    readonly path: string,
    readonly bytes: number,
  ) {
    super(
      `Expected the Unix socket path to be at most ${MAX_SOCKET_PATH_BYTES} bytes, got ${bytes} bytes: \`${path}\` (use a shorter run dir)`,
    );
  }
}

/** The configuration cannot be turned into a QEMU command line (a combination the plan cannot realize). */
export class PlanError extends VmactorError {
  override readonly name = 'PlanError' as const;
  readonly code = 'ERR_PLAN_INVALID' as const;
}
