// A QEMU or virtiofsd we did not spawn (a dead controller did): exit through a pidfd watch, signals through the pidfd.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { AsyncSubject } from 'rxjs';
import { PidfdError } from './errors.js';
import type { ExitInfo } from './exit.js';
import { pidfdBinding } from './pidfd.js';
import { isSameProcess } from './proc-info.js';
import type { WatchedProcess } from './qemu-process.js';

/** Bytes of the log kept as the output tail (as a spawned QEMU's in-memory tail). */
const TAIL_BYTES = 64 * 1024;

/** A process adopted by pid (pidfd_open; signals through pidfd_send_signal, so a reused pid is never hit). */
export interface AdoptedProcess extends WatchedProcess {
  /** Stops watching and closes the pidfd (detach); the process runs on. */
  release(): void;
}

/** The last `bytes` of a file, synchronously ('' when unreadable). */
export function fileTail(file: string, bytes: number = TAIL_BYTES): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Adopts a running process by pid + start time: opens a pidfd, then re-checks the start time
 * (so the fd is known to name that process, not a later one with the same pid), and watches it
 * (an event on Node's loop, no polling). The exit of a process that is not our child carries no
 * code or signal (only its parent can reap it): `{ code: null, signal: null }`.
 *
 * @example
 * ```ts
 * const qemu = adoptProcess(state.qemu.pid, state.qemu.startTime, join(runDir, 'qemu.log'));
 * qemu.exit$.subscribe(() => console.log('QEMU exited'));
 * qemu.kill('SIGTERM');
 * ```
 */
export function adoptProcess(pid: number, startTime: number, logFile: string): AdoptedProcess {
  const b = pidfdBinding();
  let fd: number;
  try {
    fd = b.pidfdOpen(pid);
  } catch (cause) {
    throw new PidfdError(`Process ${pid} is gone`, { cause });
  }
  if (!isSameProcess(pid, startTime)) {
    closeSync(fd);
    throw new PidfdError(`Process ${pid} is not the one recorded (start time differs, or it exited)`);
  }
  const subject = new AsyncSubject<ExitInfo>();
  let info: ExitInfo | undefined;
  let open = true;
  let resolveExit: (x: ExitInfo) => void = () => {};
  const exited = new Promise<ExitInfo>((resolve) => {
    resolveExit = resolve;
  });
  const closeFd = () => {
    if (!open) return;
    open = false;
    closeSync(fd);
  };
  const watch = b.pidfdWatch(fd, () => {
    info = { pid, code: null, signal: null };
    closeFd();
    subject.next(info);
    subject.complete();
    resolveExit(info);
  });
  return {
    pid,
    exit$: subject.asObservable(),
    exited,
    exitInfo: () => info,
    kill: (signal) => {
      if (!open || info) return false;
      return b.pidfdSendSignal(fd, constants.signals[signal]);
    },
    readLog: () => readFile(logFile, 'utf8').catch(() => ''),
    outputTail: () => fileTail(logFile),
    outputDone: Promise.resolve(),
    logFile,
    release: () => {
      if (info || !open) return;
      b.pidfdUnwatch(watch);
      closeFd();
    },
  };
}
