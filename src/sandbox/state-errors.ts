// Typed errors of persisted state, reattach and hand-off (state.json, attachSandbox, detach, recoverSandboxes).
import { VmactorError } from '../errors/vmactor-error.js';

/** The run dir has no state.json (never started, died while starting, or not a sandbox run dir). */
export class StateFileMissingError extends VmactorError {
  override readonly name = 'StateFileMissingError' as const;
  readonly code = 'ERR_STATE_MISSING' as const;
  constructor(
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(`Expected a sandbox state file at \`${file}\`, found none`, options);
  }
}

/** state.json is not valid (not JSON, fails the schema, a path leaves the run dir, a bad config). */
export class StateFileInvalidError extends VmactorError {
  override readonly name = 'StateFileInvalidError' as const;
  readonly code = 'ERR_STATE_INVALID' as const;
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`Invalid sandbox state file \`${file}\`: ${problems.join('; ')}`, options);
  }
}

/** state.json was written by a newer vmactor (a version this code does not know). */
export class StateFileVersionError extends VmactorError {
  override readonly name = 'StateFileVersionError' as const;
  readonly code = 'ERR_STATE_VERSION' as const;
  constructor(
    readonly file: string,
    readonly version: number,
    readonly supported: number,
  ) {
    super(
      `Expected a sandbox state file of version ≤ ${supported}, got version ${version} in \`${file}\` (written by a newer vmactor; upgrade to attach)`,
    );
  }
}

/** Writing state.json failed (disk full, read-only): the previous file is intact, the sandbox keeps running. */
export class StateWriteError extends VmactorError {
  override readonly name = 'StateWriteError' as const;
  readonly code = 'ERR_STATE_WRITE' as const;
  constructor(
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    const c = options?.cause as NodeJS.ErrnoException | undefined;
    super(
      `Could not write the sandbox state \`${file}\`: ${c?.code ?? c?.message ?? 'unknown error'}`,
      options,
    );
  }
}

/** Another live controller holds the sandbox (its pid and start time are in state.json). */
export class SandboxControlledError extends VmactorError {
  override readonly name = 'SandboxControlledError' as const;
  readonly code = 'ERR_SANDBOX_CONTROLLED' as const;
  constructor(
    readonly sandboxId: string,
    readonly controllerPid: number,
  ) {
    super(`Sandbox \`${sandboxId}\` is controlled by live process ${controllerPid}; detach it there first`);
  }
}

/** The second QMP monitor did not greet within the deadline: another client holds it (QEMU serves one). */
export class MonitorBusyError extends VmactorError {
  override readonly name = 'MonitorBusyError' as const;
  readonly code = 'ERR_MONITOR_BUSY' as const;
  constructor(
    readonly socketPath: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(
      `QEMU's monitor \`${socketPath}\` did not answer within ${timeoutMs} ms (another client holds it)`,
      options,
    );
  }
}

/** The recorded QEMU is gone: the run dir was cleaned; `stderrTail` is the end of its log. */
export class SandboxGoneError extends VmactorError {
  override readonly name = 'SandboxGoneError' as const;
  readonly code = 'ERR_SANDBOX_GONE' as const;
  /** Always `crashed`: QEMU exited while no controller watched it. */
  readonly stopReason = 'crashed' as const;
  constructor(
    readonly sandboxId: string,
    readonly stderrTail: string,
  ) {
    super(`Sandbox \`${sandboxId}\`'s QEMU is gone (crashed while detached); its run dir was cleaned`);
  }
}

/** The process at the recorded pid is not our QEMU (executable or argv differ): nothing was touched. */
export class SandboxIdentityError extends VmactorError {
  override readonly name = 'SandboxIdentityError' as const;
  readonly code = 'ERR_SANDBOX_IDENTITY' as const;
  constructor(
    readonly sandboxId: string,
    readonly pid: number,
    readonly why: string,
  ) {
    super(`Process ${pid} is not sandbox \`${sandboxId}\`'s QEMU: ${why}`);
  }
}

/**
 * The sandbox could not be taken over and was killed and cleaned, as libvirt does
 * (`qemuProcessReconnect` → `qemuProcessStop`): its controller died while it was `starting`, or its
 * state could not be reconciled with QEMU.
 */
export class SandboxKilledOnAttachError extends VmactorError {
  override readonly name = 'SandboxKilledOnAttachError' as const;
  readonly code = 'ERR_SANDBOX_KILLED_ON_ATTACH' as const;
  constructor(
    readonly sandboxId: string,
    readonly why: 'starting' | 'stopping' | 'unreconcilable',
    options?: { cause?: unknown },
  ) {
    super(
      why === 'unreconcilable'
        ? `Sandbox \`${sandboxId}\` could not be reconciled with its QEMU: killed and cleaned`
        : `Sandbox \`${sandboxId}\`'s controller died while it was ${why}: killed and cleaned`,
      options,
    );
  }
}

/** A hand-off handle is not valid (shape, version, or the run dir it names). */
export class HandleInvalidError extends VmactorError {
  override readonly name = 'HandleInvalidError' as const;
  readonly code = 'ERR_HANDLE_INVALID' as const;
}
