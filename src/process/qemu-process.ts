// Spawning QEMU: QMP over fd 3 (a socketpair), own session, stdio to a log file in the run dir.
import { type ChildProcess, spawn } from 'node:child_process';
import { type FileHandle, open, readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import type { Observable } from 'rxjs';
import { SpawnError } from './errors.js';
import { type ExitInfo, watchExit } from './exit.js';

/** Options of {@link spawnQemu}. */
export interface SpawnQemuOptions {
  /** Full argv, `argv[0]` the QEMU binary; must contain `-chardev socket,id=…,fd=3` for QMP. */
  readonly argv: readonly string[];
  /** QEMU's stdout and stderr go here (appended, mode 0600). */
  readonly logFile: string;
  /** `logFile` already opened (e.g. in parallel with other start work); closed after the spawn. */
  readonly log?: FileHandle;
  /** Environment (default: the current one). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A running QEMU child. */
export interface QemuProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** The controller's end of the QMP socketpair (QEMU's fd 3). */
  readonly qmpSocket: Socket;
  /** Emits once when QEMU has exited and been reaped. */
  readonly exit$: Observable<ExitInfo>;
  readonly exited: Promise<ExitInfo>;
  /** The exit, once it happened. */
  exitInfo(): ExitInfo | undefined;
  /** Sends a signal to QEMU's PID (never a group); false when it is gone. */
  kill(signal: NodeJS.Signals): boolean;
  /** What QEMU printed so far. */
  readLog(): Promise<string>;
  readonly logFile: string;
}

/**
 * Spawns QEMU detached (its own session, so it survives a crash of this Node process and a
 * Ctrl-C to our process group), with fd 3 a socketpair for QMP and stdout/stderr to `logFile`.
 * `child_process.spawn` rather than execa: we need the raw socketpair end as a `net.Socket`,
 * file descriptors as stdio, and nothing extra on the start path (execa's promise, buffering
 * and stream plumbing are all unused here).
 *
 * @example
 * ```ts
 * const qemu = await spawnQemu({ argv, logFile: join(runDir, 'qemu.log') });
 * const qmp = await QmpClient.connect(qemu.qmpSocket);
 * ```
 */
export async function spawnQemu(opts: SpawnQemuOptions): Promise<QemuProcess> {
  const [binary, ...args] = opts.argv;
  if (binary === undefined) throw new SpawnError('(empty argv)');
  const log = opts.log ?? (await open(opts.logFile, 'a', 0o600));
  let child: ChildProcess;
  try {
    child = spawn(binary, args, {
      stdio: ['ignore', log.fd, log.fd, 'pipe'],
      detached: true,
      shell: false,
      env: opts.env ?? process.env,
    });
  } finally {
    void log.close();
  }
  return adoptChild(child, binary, opts.logFile);
}

async function adoptChild(child: ChildProcess, binary: string, logFile: string): Promise<QemuProcess> {
  const pid = child.pid;
  if (pid === undefined) {
    const cause = await new Promise<unknown>((resolve) => child.once('error', resolve));
    throw new SpawnError(binary, { cause });
  }
  child.on('error', () => {});
  const watch = watchExit(child, pid);
  const qmpSocket = child.stdio[3] as Socket;
  return {
    pid,
    child,
    qmpSocket,
    exit$: watch.exit$,
    exited: watch.exited,
    exitInfo: watch.current,
    kill: (signal) => (watch.current() === undefined ? child.kill(signal) : false),
    readLog: () => readFile(logFile, 'utf8').catch(() => ''),
    logFile,
  };
}
