// Spawning QEMU: QMP over fd 3 (a socketpair), planned fds at their numbers, own session, output teed through the controller.
import type { StdioOptions } from 'node:child_process';
import { fstatSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import type { Observable } from 'rxjs';
import { LaunchFdError, SpawnError } from './errors.js';
import type { ExitInfo } from './exit.js';
import { inNetns } from './netns.js';
import { closeQuietly, type OutputTee, teeOutput } from './output-tee.js';
import { type DetachedChild, spawnDetached } from './spawn-detached.js';

/** QMP's socketpair is QEMU's fd 3. */
export const QMP_FD = 3;

/** An fd QEMU gets at a given number: `fd` as QEMU sees it, `hostFd` the controller's open fd. */
export interface PassedFd {
  /** The number in QEMU (`fds=4:5`, `vhostfd=6`); at least 4 (0-2 stdio, 3 QMP). */
  readonly fd: number;
  /** The controller's open fd passed there. */
  readonly hostFd: number;
  /** For messages: what uses it. */
  readonly deviceId?: string;
}

/** Options of {@link spawnQemu}. */
export interface SpawnQemuOptions {
  /** Full argv, `argv[0]` the QEMU binary; must contain `-chardev socket,id=…,fd=3` for QMP. */
  readonly argv: readonly string[];
  /** The file QEMU's output is teed into (for `readLog` and later readers). */
  readonly logFile: string;
  /**
   * The fd of `logFile` opened for appending (before anything else, by the caller); closed when
   * QEMU's output ends. `null`: no file, memory only. Omitted: opened here (mode 0600).
   */
  readonly log?: number | null;
  /** Extra fds (tap queues, vhost-net, vhost-vsock) at their numbers in QEMU. */
  readonly fds?: readonly PassedFd[];
  /** Start QEMU inside this network namespace file (`nsenter --net=… --`, same pid). */
  readonly netns?: string;
  /** Every line QEMU prints (stdout and stderr), as it arrives. */
  readonly onLine?: (line: string) => void;
  /** The first failed write to the log file (its filesystem is full, …). */
  readonly onLogError?: (err: unknown) => void;
  /** Environment (default: the current one). */
  readonly env?: NodeJS.ProcessEnv;
}

/** What the sandbox runtime and the stop ladder use of a QEMU, spawned by us or adopted by pid. */
export interface WatchedProcess {
  readonly pid: number;
  /** Emits once when the process has exited (reaped, or its pidfd became readable). */
  readonly exit$: Observable<ExitInfo>;
  readonly exited: Promise<ExitInfo>;
  /** The exit, once it happened. */
  exitInfo(): ExitInfo | undefined;
  /** Sends a signal to exactly this process (never a group); false when it is gone. */
  kill(signal: NodeJS.Signals): boolean;
  /** What it printed so far: the log file while it is complete, else the in-memory tail. */
  readLog(): Promise<string>;
  /** The last 64 KiB it printed. */
  outputTail(): string;
  /** Resolves once its output reached EOF and the log is closed (at once for an adopted process). */
  readonly outputDone: Promise<void>;
  readonly logFile: string;
}

/** A running QEMU child. */
export interface QemuProcess extends WatchedProcess {
  /** Lets go of a QEMU that runs on (detach): our ends of its output pipes close. */
  release(): void;
  /** The controller's end of the QMP socketpair (QEMU's fd 3). */
  readonly qmpSocket: Socket;
}

/** The stdio array: 0 ignored, 1-2 pipes to us, 3 QMP's socketpair, then each planned fd at its number. */
export function stdioFor(fds: readonly PassedFd[]): StdioOptions {
  const stdio: (number | 'ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe', 'pipe'];
  for (const f of fds) {
    if (!Number.isInteger(f.fd) || f.fd <= QMP_FD) {
      throw new LaunchFdError(
        `Expected a passed fd number above ${QMP_FD} (QMP's), got \`${f.fd}\`${f.deviceId ? ` for \`${f.deviceId}\`` : ''}`,
        f.fd,
        f.hostFd,
      );
    }
    if (stdio[f.fd] !== undefined && stdio[f.fd] !== 'ignore') {
      throw new LaunchFdError(`Expected fd \`${f.fd}\` to be passed once, got it twice`, f.fd, f.hostFd);
    }
    try {
      fstatSync(f.hostFd);
    } catch (cause) {
      throw new LaunchFdError(
        `Expected fd \`${f.hostFd}\`${f.deviceId ? ` of \`${f.deviceId}\`` : ''} to be open in this process, got ${(cause as NodeJS.ErrnoException).code ?? 'an error'}`,
        f.fd,
        f.hostFd,
        { cause },
      );
    }
    for (let i = stdio.length; i < f.fd; i++) stdio[i] = 'ignore';
    stdio[f.fd] = f.hostFd;
  }
  return stdio;
}

/**
 * Spawns QEMU detached (its own session, so it survives a crash of this Node process and a
 * Ctrl-C to our process group), with fd 3 a socketpair for QMP, each planned fd at its number,
 * and stdout/stderr as pipes read by the controller: teed to `logFile`, the last 64 KiB kept in
 * memory, so a start failure still says what QEMU printed when the log's filesystem is full.
 * QEMU ignores SIGPIPE (os-posix.c `os_setup_early_signal_handling`), so once this process is
 * gone its writes fail with EPIPE and it runs on (what it prints after that is lost; QMP and the
 * second monitor are how a restarted controller learns about it). Neither `child_process.spawn`
 * nor execa: both fork this process on the event loop and wait there for the exec
 * ({@link spawnDetached} runs posix_spawnp on a libuv worker and reaps through a pidfd).
 *
 * @example
 * ```ts
 * const log = openSync(join(runDir, 'qemu.log'), 'a', 0o600);
 * const qemu = await spawnQemu({ argv, logFile: join(runDir, 'qemu.log'), log, fds: [{ fd: 4, hostFd: tap }] });
 * const qmp = await QmpClient.connect(qemu.qmpSocket);
 * ```
 */
export async function spawnQemu(opts: SpawnQemuOptions): Promise<QemuProcess> {
  if (opts.argv[0] === undefined) throw new SpawnError('(empty argv)');
  const [binary, ...args] = inNetns(opts.argv, opts.netns) as [string, ...string[]];
  try {
    stdioFor(opts.fds ?? []);
  } catch (err) {
    if (typeof opts.log === 'number') closeQuietly(opts.log);
    throw err;
  }
  const log = opts.log === undefined ? openSync(opts.logFile, 'a', 0o600) : (opts.log ?? undefined);
  let child: DetachedChild;
  try {
    child = await spawnDetached({
      binary,
      args,
      env: opts.env ?? process.env,
      socketFd: QMP_FD,
      fds: opts.fds ?? [],
    });
  } catch (err) {
    if (log !== undefined) closeQuietly(log);
    throw err;
  }
  const tee = teeOutput([child.stdout, child.stderr], {
    log,
    ...(opts.onLine ? { onLine: opts.onLine } : {}),
    ...(opts.onLogError ? { onLogError: opts.onLogError } : {}),
  });
  return processOf(child, opts.logFile, tee);
}

/** How long an exited QEMU's output may take to reach EOF (a grandchild could hold the pipes). */
export const OUTPUT_DRAIN_MS = 1_000;

/** Resolves when `done` (a process's `outputDone`) does, or after `ms`, whichever comes first. */
export function drainedWithin(done: Promise<void>, ms: number = OUTPUT_DRAIN_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    done,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function processOf(child: DetachedChild, logFile: string, tee: OutputTee): QemuProcess {
  const { pid, exit: watch } = child;
  return {
    pid,
    qmpSocket: child.socket,
    exit$: watch.exit$,
    exited: watch.exited,
    exitInfo: watch.current,
    kill: (signal) => child.kill(signal),
    release: () => {
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
    },
    readLog: async () => {
      // After the exit, what QEMU printed last may still be in the pipe: drained first (bounded).
      if (watch.current()) await drainedWithin(tee.done);
      if (!tee.logComplete()) return tee.tail();
      return readFile(logFile, 'utf8').catch(() => tee.tail());
    },
    outputTail: () => tee.tail(),
    outputDone: tee.done,
    logFile,
  };
}
