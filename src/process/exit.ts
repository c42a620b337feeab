// Process exit watchers as Observables: one replayed value when the child is reaped.
import type { ChildProcess } from 'node:child_process';
import { AsyncSubject, type Observable } from 'rxjs';

/** How a child process ended (after it was reaped). */
export interface ExitInfo {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The exit of a spawned child, as an Observable (emits once then completes; late subscribers get it) and a Promise. */
export interface ExitWatch {
  readonly exit$: Observable<ExitInfo>;
  readonly exited: Promise<ExitInfo>;
  /** The exit, once it happened. */
  current(): ExitInfo | undefined;
}

/** Watches a spawned child's `exit` (Node reaps it); attach right after `spawn`. */
export function watchExit(child: ChildProcess, pid: number): ExitWatch {
  const subject = new AsyncSubject<ExitInfo>();
  let info: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      info = { pid, code, signal };
      subject.next(info);
      subject.complete();
      resolve(info);
    });
  });
  return { exit$: subject.asObservable(), exited, current: () => info };
}
