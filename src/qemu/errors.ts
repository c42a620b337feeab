// Typed errors of the QEMU plan: bad arch/machine, paths outside the run dir (bridge capacity: src/devices/errors.ts).
import { MAX_SOCKET_PATH_BYTES } from '../devices/rules.js';
import { VmactorError } from '../errors/vmactor-error.js';

/** The requested arch or machine type is not in vmactor's arch tables. */
export class UnsupportedMachineError extends VmactorError {
  override readonly name = 'UnsupportedMachineError' as const;
  readonly code = 'ERR_PLAN_UNSUPPORTED_MACHINE' as const;
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
