// One operation's steps with their undo actions: QMP with deadline + abort, rollback in reverse.
import type { QmpArgs, QmpCommandName, QmpReturn } from '../qmp/commands.js';
import { QmpAbortError, QmpCommandError, QmpDisconnectedError, QmpTimeoutError } from '../qmp/errors.js';
import { deadlinesOf, type HotplugContext } from './context.js';
import {
  HotplugAbortedError,
  HotplugCommandTimeoutError,
  HotplugError,
  type HotplugFailure,
  HotplugRefusedError,
  HotplugRollbackIncompleteError,
  type HotplugRolledBackError,
  HotplugTimeoutError,
  VfioDeviceError,
} from './errors.js';

/** A QMP step QEMU refused: the step's label and QEMU's error, classified by the operation. */
export class StepRefused extends Error {
  constructor(
    readonly step: string,
    readonly qmp: QmpCommandError,
  ) {
    super(`${step}: ${qmp.desc}`, { cause: qmp });
  }
}

/**
 * Thrown by an undo action when the thing it undoes is still in QEMU and cannot be removed now (a
 * device whose unplug the guest has not acknowledged): the rollback stops there, and the remaining
 * undo actions are left to the pending record (the device keeps its backend and slot until its
 * `DEVICE_DELETED`; `settlePendingRemovals` finishes them).
 */
export class RollbackDeferred extends Error {
  constructor(readonly deviceId: string) {
    super(`rollback of \`${deviceId}\` deferred until QEMU deletes it`);
  }
}

interface Undo {
  readonly name: string;
  readonly run: () => Promise<void>;
}

/** QEMU's words for "no such object": undoing or removing something not there counts as done. */
export const ABSENT = /not found|does not exist|no such|cannot find|can't find|failed to find|not exist/i;

/**
 * The steps of one operation. `qmp()` runs a command with the command deadline and the
 * operation's abort signal; `onUndo()` registers how to take a step back. On failure
 * `rollback()` runs the undo actions newest first, each with a fresh deadline and no abort
 * signal (a STOP must not prevent the cleanup).
 */
export class Steps {
  private readonly undos: Undo[] = [];

  constructor(private readonly ctx: HotplugContext) {}

  /** Number of undo actions registered. */
  get undoCount(): number {
    return this.undos.length;
  }

  /** Throws {@link HotplugAbortedError} once STOP pre-empted the operation. */
  checkAborted(): void {
    if (this.ctx.signal.aborted) {
      throw new HotplugAbortedError('The operation was pre-empted (the sandbox is stopping)', {
        cause: this.ctx.signal.reason,
      });
    }
  }

  /**
   * Runs one QMP command. `undo` (if given) is registered before the command is written, so an
   * abort or timeout (QEMU may still have done it) is undone too; a refusal drops it again.
   */
  async qmp<K extends QmpCommandName>(
    step: string,
    cmd: K,
    args: QmpArgs<K> | undefined,
    undo?: { name: string; run: () => Promise<void> },
    fds?: readonly number[],
  ): Promise<QmpReturn<K>> {
    this.checkAborted();
    if (undo) this.undos.push(undo);
    try {
      return await this.ctx.qmp.execute(cmd, args, {
        timeoutMs: deadlinesOf(this.ctx).commandMs,
        signal: this.ctx.signal,
        ...(fds ? { fds } : {}),
      });
    } catch (err) {
      if (err instanceof QmpCommandError) {
        if (undo) this.undos.pop();
        throw new StepRefused(step, err);
      }
      throw err;
    }
  }

  /**
   * Runs QMP commands back to back (pipelined: each is written without waiting for the previous
   * reply; QEMU executes one monitor's commands in order). Every undo is registered before its
   * command is written, in order; a refused command drops its own undo. Resolves once every reply
   * is in; the first failure (in command order) is thrown after all have settled, so the
   * rollback sees exactly the steps QEMU did. Later commands name earlier ones' objects (a
   * `device_add` its `drive`), so after a refusal QEMU refuses them too.
   */
  async pipeline(
    commands: readonly {
      readonly step: string;
      readonly cmd: QmpCommandName;
      readonly args: unknown;
      readonly undo?: Undo | undefined;
      readonly fds?: readonly number[] | undefined;
    }[],
  ): Promise<void> {
    this.checkAborted();
    const opts = { timeoutMs: deadlinesOf(this.ctx).commandMs, signal: this.ctx.signal };
    const replies = commands.map((c) => {
      if (c.undo) this.undos.push(c.undo);
      const p = this.ctx.qmp.execute(c.cmd, c.args as never, c.fds ? { ...opts, fds: c.fds } : opts);
      return p.then(
        () => undefined,
        (err: unknown) => {
          if (err instanceof QmpCommandError) {
            if (c.undo) this.undos.splice(this.undos.indexOf(c.undo), 1);
            return new StepRefused(c.step, err);
          }
          return err instanceof Error ? err : new Error(String(err));
        },
      );
    });
    const settled = await Promise.all(replies);
    const failure = settled.find((e) => e !== undefined);
    if (failure) throw failure;
  }

  /** Registers an undo action for a step done outside QMP (e.g. a bridge slot taken). */
  onUndo(name: string, run: () => Promise<void> | void): void {
    this.undos.push({ name, run: async () => run() });
  }

  /** A QMP command for an undo action: fresh deadline, no abort signal; absent objects count as undone. */
  async undoQmp<K extends QmpCommandName>(cmd: K, args: QmpArgs<K>): Promise<void> {
    try {
      await this.ctx.qmp.execute(cmd, args, { timeoutMs: deadlinesOf(this.ctx).commandMs });
    } catch (err) {
      if (err instanceof QmpCommandError && ABSENT.test(err.desc)) return;
      if (err instanceof QmpDisconnectedError) return; // QEMU is gone: nothing is left to undo there.
      throw err;
    }
  }

  /** Runs every undo action newest first; returns the names of those that did not happen. */
  async rollback(): Promise<string[]> {
    const left: string[] = [];
    while (this.undos.length > 0) {
      const u = this.undos.pop() as Undo;
      try {
        await u.run();
      } catch (err) {
        if (err instanceof RollbackDeferred) {
          this.ctx.logger?.warn(
            { deviceId: err.deviceId },
            'hotplug rollback deferred: the device is still in QEMU',
          );
          // The device's record owns what remains (its backend, its slot) until DEVICE_DELETED.
          left.push(u.name, ...this.undos.reverse().map((x) => x.name));
          this.undos.length = 0;
          return left;
        }
        left.push(u.name);
        this.ctx.logger?.warn({ err, step: u.name }, 'hotplug rollback step failed');
      }
    }
    return left;
  }

  /**
   * Rolls back, then throws `err` as a typed {@link HotplugError}: a {@link HotplugRolledBackError}
   * subclass when every undo happened, else {@link HotplugRollbackIncompleteError}.
   * (`classify` maps QEMU refusals to family-specific errors, e.g. VFIO's.)
   */
  async fail(err: unknown, classify?: (r: StepRefused) => HotplugRolledBackError): Promise<never> {
    const left = await this.rollback();
    throw toHotplugError(err, left, classify);
  }
}

/** A one-line description of any failure (for messages that wrap it). */
export function describeFailure(err: unknown): string {
  if (err instanceof StepRefused) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Maps a failure of a step onto the hot-plug error family; `left` lists the undo steps that did
 * not happen (none: the rolled-back classes).
 */
export function toHotplugError(
  err: unknown,
  left: readonly string[] = [],
  classify?: (r: StepRefused) => HotplugRolledBackError,
): HotplugError {
  const rolledBack = (): HotplugRolledBackError => {
    if (err instanceof StepRefused) {
      return classify?.(err) ?? new HotplugRefusedError(err.step, err.qmp.desc, { cause: err.qmp });
    }
    if (err instanceof QmpAbortError) {
      return new HotplugAbortedError('The operation was pre-empted (the sandbox is stopping)', {
        cause: err,
      });
    }
    if (err instanceof QmpTimeoutError) {
      return new HotplugCommandTimeoutError(err.waitingFor, err.timeoutMs, { cause: err });
    }
    if (err instanceof QmpDisconnectedError) {
      return new HotplugAbortedError('QMP disconnected during the operation (QEMU exited)', { cause: err });
    }
    return new HotplugRefusedError('operation', describeFailure(err), { cause: err });
  };
  if (err instanceof HotplugError) {
    if (left.length === 0) return err;
    return new HotplugRollbackIncompleteError(failureOf(err), err.message, left, { cause: err });
  }
  const e = rolledBack();
  if (left.length === 0) return e;
  return new HotplugRollbackIncompleteError(failureOf(e), e.message, left, { cause: err });
}

function failureOf(e: HotplugError): HotplugFailure {
  if (e instanceof VfioDeviceError) return 'vfio';
  if (e instanceof HotplugAbortedError) return 'aborted';
  if (e instanceof HotplugCommandTimeoutError || e instanceof HotplugTimeoutError) return 'timeout';
  return 'refused';
}
