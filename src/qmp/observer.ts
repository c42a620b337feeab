// An optional process-wide observer of QMP round trips (command written → reply read), for metrics.
import { performance } from 'node:perf_hooks';

/** What a {@link QmpObserver} is told of one command: its name, the round trip, and how QEMU answered. */
export type QmpObserver = (command: string, seconds: number, outcome: 'ok' | 'error') => void;

let current: QmpObserver | undefined;

/**
 * Installs (or, with `undefined`, removes) the observer every QMP client of this process reports
 * its replies to. Without one, the client does no timing at all (one check per command).
 * Returns the previous observer.
 *
 * @example
 * ```ts
 * setQmpObserver((cmd, s, outcome) => histogram.observe({ command: cmd, outcome }, s));
 * ```
 */
export function setQmpObserver(observer: QmpObserver | undefined): QmpObserver | undefined {
  const prev = current;
  current = observer;
  return prev;
}

/** @internal The client's clock when an observer listens, else 0 (no timing). */
export function qmpClock(): number {
  return current === undefined ? 0 : performance.now();
}

/** @internal Reports a reply to the observer (a command written with no observer, `sentAt` 0, is not timed). */
export function observeQmpReply(command: string, sentAt: number, outcome: 'ok' | 'error'): void {
  if (current === undefined || sentAt === 0) return;
  current(command, (performance.now() - sentAt) / 1000, outcome);
}
