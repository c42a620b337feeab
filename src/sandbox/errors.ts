// Typed errors of the Sandbox handle.
import { VmactorError } from '../errors/vmactor-error.js';

/** `start()` failed: the sandbox is `stopped{start-failed}` and everything it created is gone. `cause` says why. */
export class SandboxStartError extends VmactorError {
  override readonly name = 'SandboxStartError' as const;
  readonly code = 'ERR_SANDBOX_START' as const;
  readonly sandboxId: string;
  constructor(sandboxId: string, options?: { cause?: unknown }) {
    const c = options?.cause;
    const why = c instanceof Error ? c.message : describe(c);
    super(`Sandbox \`${sandboxId}\` failed to start${why ? `: ${why}` : ''}`, options);
    this.sandboxId = sandboxId;
  }
}

/** The start deadline expired (the machine's `startTimeout`). */
export class SandboxStartTimeoutError extends VmactorError {
  override readonly name = 'SandboxStartTimeoutError' as const;
  readonly code = 'ERR_START_TIMEOUT' as const;
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number) {
    super(message);
    this.timeoutMs = timeoutMs;
  }
}

/** The request needs a live sandbox, but it is not (e.g. `pause()` after it stopped). */
export class SandboxStateError extends VmactorError {
  override readonly name = 'SandboxStateError' as const;
  readonly code = 'ERR_SANDBOX_STATE' as const;
  readonly phase: string;
  constructor(message: string, phase: string) {
    super(message);
    this.phase = phase;
  }
}

/** Our own `stop`/`cont` failed (QEMU refused); the phase did not change. */
export class SandboxCommandError extends VmactorError {
  override readonly name = 'SandboxCommandError' as const;
  readonly code = 'ERR_SANDBOX_COMMAND' as const;
  readonly command: 'pause' | 'resume';
  constructor(command: 'pause' | 'resume', options?: { cause?: unknown }) {
    super(`Sandbox ${command} failed`, options);
    this.command = command;
  }
}

/** `check()`: QEMU reports the guest in a failure state (`internal-error`, `guest-panicked`). */
export class GuestFailureError extends VmactorError {
  override readonly name = 'GuestFailureError' as const;
  readonly code = 'ERR_GUEST_FAILURE' as const;
  readonly status: string;
  constructor(status: string) {
    super(`guest failure: ${status}`);
    this.status = status;
  }
}

/** A modifying operation was refused or abandoned by the machine (not active, no capacity, duplicate id, stopping). */
export class SandboxOperationError extends VmactorError {
  override readonly name = 'SandboxOperationError' as const;
  readonly code = 'ERR_SANDBOX_OPERATION' as const;
  /** The machine's reason: `ERR_SANDBOX_NOT_ACTIVE`, `ERR_NO_CAPACITY`, `ERR_OPERATION_ABORTED`, `ERR_DUPLICATE_ID`. */
  readonly reason: string;
  readonly operationId: string;
  constructor(operationId: string, reason: string, message: string) {
    super(message);
    this.reason = reason;
    this.operationId = operationId;
  }
}

function describe(x: unknown): string {
  if (typeof x === 'object' && x !== null && typeof (x as { message?: unknown }).message === 'string') {
    return (x as { message: string }).message;
  }
  return x === undefined ? '' : String(x);
}
