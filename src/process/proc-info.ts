// Facts about a live process from /proc: start time (stat field 22), executable, argv — to recognize OUR QEMU after a restart.
import { readFileSync, readlinkSync } from 'node:fs';

/** What /proc says about one process. */
export interface ProcFacts {
  readonly pid: number;
  /** Start time in clock ticks since boot (`/proc/PID/stat` field 22): with the pid, a process's identity. */
  readonly startTime: number;
  /** Process state letter (`R`, `S`, `Z` zombie, …). */
  readonly state: string;
  /** `/proc/PID/exe` (may end in ` (deleted)` after a package upgrade); undefined when unreadable. */
  readonly exe: string | undefined;
  /** `/proc/PID/cmdline` split on NUL. */
  readonly argv: readonly string[];
}

/**
 * Parses `/proc/PID/stat`: the command name is in parentheses and may hold spaces and `)`, so
 * fields are counted after the LAST `)` (field 3, the state, comes right after it).
 *
 * @example
 * ```ts
 * parseProcStat('42 (qemu) S 1 42 42 0 -1 ... 123456 ...').startTime; // field 22
 * ```
 */
export function parseProcStat(stat: string): { state: string; startTime: number } | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat
    .slice(close + 2)
    .trim()
    .split(' ');
  // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
  const state = fields[0];
  const start = Number(fields[19]);
  if (state === undefined || !Number.isSafeInteger(start) || start < 0) return undefined;
  return { state, startTime: start };
}

/** Reads the /proc facts of `pid`, or undefined when there is no such process (or it is unreadable). */
export function procFacts(pid: number): ProcFacts | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = parseProcStat(stat);
  if (!parsed) return undefined;
  let exe: string | undefined;
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    exe = undefined;
  }
  let argv: string[] = [];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.at(-1) === '') argv.pop();
  } catch {
    argv = [];
  }
  return { pid, ...parsed, exe, argv };
}

/** True when `pid` is alive with the same start time (a reused pid has another), zombies counting as gone. */
export function isSameProcess(pid: number, startTime: number): boolean {
  const f = procFacts(pid);
  return f !== undefined && f.startTime === startTime && f.state !== 'Z' && f.state !== 'X';
}
