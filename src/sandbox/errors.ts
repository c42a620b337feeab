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

/** Base of the machine's own refusals of an operation (each subclass has its one `code`). */
export abstract class SandboxOperationError extends VmactorError {
  /** The operation's id (`sb.operate(op, { id })`). */
  readonly operationId: string;
  constructor(operationId: string, message: string) {
    super(message);
    this.operationId = operationId;
  }
}

/** The operation was refused: the sandbox is not running or paused (created, starting, stopping, stopped). */
export class OperationNotActiveError extends SandboxOperationError {
  override readonly name = 'OperationNotActiveError' as const;
  readonly code = 'ERR_OPERATION_NOT_ACTIVE' as const;
}

/** The operation was refused before any QMP: no capacity left (bridge slots, memory slots, maxmem, maxcpus). */
export class OperationCapacityError extends SandboxOperationError {
  override readonly name = 'OperationCapacityError' as const;
  readonly code = 'ERR_OPERATION_NO_CAPACITY' as const;
}

/** The operation was abandoned: the sandbox began stopping while it ran or waited (STOP pre-empts). */
export class OperationAbortedError extends SandboxOperationError {
  override readonly name = 'OperationAbortedError' as const;
  readonly code = 'ERR_OPERATION_ABORTED' as const;
}

/** Another operation with the same id is queued or running. */
export class DuplicateOperationError extends SandboxOperationError {
  override readonly name = 'DuplicateOperationError' as const;
  readonly code = 'ERR_OPERATION_DUPLICATE_ID' as const;
}

/** One problem with an argument of a Sandbox method: where and what. */
export interface SandboxInputIssue {
  /** Dotted path of the value, e.g. `device.file`, `mib`. */
  readonly path: string;
  /** ``Expected `device.file` to be an absolute path, got `"rel"` `` */
  readonly message: string;
}

/** An argument of a Sandbox method is invalid (every problem listed); nothing was sent to QEMU. */
export class SandboxInputError extends VmactorError {
  override readonly name = 'SandboxInputError' as const;
  readonly code = 'ERR_SANDBOX_INPUT' as const;
  readonly issues: readonly SandboxInputIssue[];
  constructor(issues: readonly SandboxInputIssue[]) {
    super(issues.map((i) => i.message).join('\n'));
    this.issues = issues;
  }
}

function describe(x: unknown): string {
  if (typeof x === 'object' && x !== null && typeof (x as { message?: unknown }).message === 'string') {
    return (x as { message: string }).message;
  }
  return x === undefined ? '' : String(x);
}
