// The stop ladder as a policy: polite request (quit) → wait → SIGTERM → wait → SIGKILL → reap.
import type { ExitInfo } from './exit.js';

/** Deadlines of the stop ladder, in milliseconds. */
export interface StopPolicy {
  /** After `quit` (or, wait-only, from the start): how long to wait for a clean exit. */
  readonly quitTimeoutMs: number;
  /** After SIGTERM: how long to wait before SIGKILL. */
  readonly termTimeoutMs: number;
  /** After SIGKILL: how long to wait for the reap before giving up with an error. */
  readonly killTimeoutMs: number;
}

/** Default stop policy: 5 s for quit, 3 s after SIGTERM, 5 s after SIGKILL. */
export const DEFAULT_STOP_POLICY: StopPolicy = {
  quitTimeoutMs: 5_000,
  termTimeoutMs: 3_000,
  killTimeoutMs: 5_000,
};

/** What the ladder needs from a process. */
export interface Stoppable {
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  exitInfo(): ExitInfo | undefined;
  kill(signal: NodeJS.Signals): boolean;
}

/** Which rung ended the process. */
export type StopRung = 'already-exited' | 'quit' | 'wait' | 'SIGTERM' | 'SIGKILL';

/** Result of {@link stopProcess}. */
export interface StopOutcome {
  readonly rung: StopRung;
  readonly exit: ExitInfo;
}

/** Resolves with the exit, or `undefined` after `ms` (the timer is cleared either way). */
export function exitWithin(p: Stoppable, ms: number): Promise<ExitInfo | undefined> {
  const done = p.exitInfo();
  if (done) return Promise.resolve(done);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
  });
  return Promise.race([p.exited, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Runs the ladder on one process: `request()` (e.g. QMP `quit`; omitted for wait-only or when the
 * process is already going) then wait `quitTimeoutMs`, SIGTERM and wait `termTimeoutMs`, SIGKILL
 * and wait `killTimeoutMs` for the reap. Rejects only when even SIGKILL did not reap it.
 *
 * @example
 * ```ts
 * const { rung } = await stopProcess(qemu, DEFAULT_STOP_POLICY, () => qmp.execute('quit'));
 * ```
 */
export async function stopProcess(
  p: Stoppable,
  policy: StopPolicy,
  request?: () => Promise<unknown>,
): Promise<StopOutcome> {
  const done = p.exitInfo();
  if (done) return { rung: 'already-exited', exit: done };
  if (request) {
    // A failing request (QMP gone, QEMU exiting) is not fatal: the signals follow.
    void request().catch(() => {});
  }
  let exit = await exitWithin(p, policy.quitTimeoutMs);
  if (exit) return { rung: request ? 'quit' : 'wait', exit };
  p.kill('SIGTERM');
  exit = await exitWithin(p, policy.termTimeoutMs);
  if (exit) return { rung: 'SIGTERM', exit };
  p.kill('SIGKILL');
  exit = await exitWithin(p, policy.killTimeoutMs);
  if (exit) return { rung: 'SIGKILL', exit };
  throw new Error(`process ${p.pid} was not reaped ${policy.killTimeoutMs} ms after SIGKILL`);
}
