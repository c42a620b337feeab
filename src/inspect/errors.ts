// Typed errors of the inspector.
import { VmactorError } from '../errors/vmactor-error.js';

/** `inspect()` options are invalid (nothing was opened). */
export class InspectOptionsError extends VmactorError {
  override readonly name = 'InspectOptionsError' as const;
  readonly code = 'ERR_INSPECT_OPTIONS' as const;
}

/** `inspect(target)` was given something that is not a Sandbox, a VM factory or a Supervisor. */
export class InspectTargetError extends VmactorError {
  override readonly name = 'InspectTargetError' as const;
  readonly code = 'ERR_INSPECT_TARGET' as const;
}

/** The inspector could not listen on 127.0.0.1 (port in use, not allowed); `cause` says why. */
export class InspectListenError extends VmactorError {
  override readonly name = 'InspectListenError' as const;
  readonly code = 'ERR_INSPECT_LISTEN' as const;
  constructor(
    readonly port: number,
    options: { cause: unknown },
  ) {
    super(
      `Cannot listen on 127.0.0.1:${port} for the inspector: ${(options.cause as Error)?.message ?? String(options.cause)}`,
      options,
    );
  }
}
