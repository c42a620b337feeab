// `executeAndWaitFor`: a command and the event it causes, awaited together under one deadline.
import type { QmpClient } from './client.js';
import { armTimer, checkTimeout } from './client-wire.js';
import type { QmpArgs, QmpCommandName, QmpReturn } from './commands.js';
import { QmpDisconnectedError, QmpTimeoutError } from './errors.js';
import type { QmpEvent } from './types.js';

/** Options of `executeAndWaitFor`: one deadline for the reply and the event. */
export interface QmpWaitForOptions {
  /** Deadline for both the reply and the event (`Infinity` only when explicitly wanted). */
  timeoutMs: number;
  /** Abandons the wait; the command rejects with `QmpAbortError`. */
  signal?: AbortSignal;
  /** File descriptors sent with the command (SCM_RIGHTS). */
  fds?: readonly number[];
}

/**
 * Runs `cmd` on `client` and waits for the event `match` accepts, without a race: events are
 * subscribed before the command is written, so an event before (or after) the reply is seen.
 */
export function executeAndWaitFor<K extends QmpCommandName>(
  client: QmpClient,
  cmd: K,
  args: QmpArgs<K> | undefined,
  match: (e: QmpEvent) => boolean,
  opts: QmpWaitForOptions,
): Promise<{ result: QmpReturn<K>; event: QmpEvent }> {
  const bad = checkTimeout('timeoutMs', opts.timeoutMs);
  if (bad) return Promise.reject(bad);
  return new Promise((resolve, reject) => {
    let result: QmpReturn<K> | undefined;
    let haveResult = false;
    let event: QmpEvent | undefined;
    let done = false;
    let evSub: { unsubscribe(): void } | undefined;
    let cmdSub: { unsubscribe(): void } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      evSub?.unsubscribe();
      cmdSub?.unsubscribe();
      if (timer !== undefined) clearTimeout(timer);
      if (err) reject(err);
      else resolve({ result: result as QmpReturn<K>, event: event as QmpEvent });
    };
    evSub = client.events$.subscribe({
      next: (e) => {
        if (event) return;
        let hit: boolean;
        try {
          hit = match(e);
        } catch (err) {
          finish(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (!hit) return;
        event = e;
        if (haveResult) finish();
      },
      error: (err: unknown) =>
        finish(err instanceof Error ? err : new QmpDisconnectedError('error', { cause: err, command: cmd })),
      complete: () => finish(new QmpDisconnectedError(client.closeReason ?? 'closed', { command: cmd })),
    });
    if (done) {
      // The stream had already ended: the subscription completed synchronously.
      evSub.unsubscribe();
      return;
    }
    timer = armTimer(opts.timeoutMs, () => finish(new QmpTimeoutError(`${cmd} → event`, opts.timeoutMs)), 0);
    const execOpts = { signal: opts.signal, fds: opts.fds, timeoutMs: Number.POSITIVE_INFINITY };
    cmdSub = client.execute$(cmd, args, execOpts).subscribe({
      next: (value) => {
        result = value;
        haveResult = true;
        if (event) finish();
      },
      error: (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))),
    });
    if (done) cmdSub.unsubscribe();
  });
}
