// Launching virtiofsd on a listening vhost-user socket we create and pass as its fd 0.
import { type ChildProcess, spawn } from 'node:child_process';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import type { Observable } from 'rxjs';
import { SpawnError } from './errors.js';
import { type ExitInfo, watchExit } from './exit.js';
import { inNetns } from './netns.js';
import { assertSocketPath } from './run-dir.js';

/** Options of {@link launchVirtiofsd}. */
export interface LaunchVirtiofsdOptions {
  /**
   * virtiofsd argv, `argv[0]` the binary (see `virtiofsdArgs` in src/qemu/virtiofsd.ts). Any
   * `--socket-path=`/`--fd=` in it is replaced by `--fd=0`: the socket is ours.
   */
  readonly argv: readonly string[];
  /** Where the vhost-user socket appears (QEMU connects here); at most 107 bytes. */
  readonly socketPath: string;
  /** virtiofsd's stdout and stderr go here. */
  readonly logFile: string;
  /** Start virtiofsd inside this network namespace file (`nsenter --net=… --`, same pid). */
  readonly netns?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** A running virtiofsd. */
export interface VirtiofsdProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exit$: Observable<ExitInfo>;
  readonly exited: Promise<ExitInfo>;
  exitInfo(): ExitInfo | undefined;
  kill(signal: NodeJS.Signals): boolean;
  readLog(): Promise<string>;
  readonly socketPath: string;
  readonly logFile: string;
}

/** The argv with its socket option replaced by `--fd=0`. */
export function withListenFd(argv: readonly string[]): string[] {
  const out = argv.filter((a) => !a.startsWith('--socket-path=') && !a.startsWith('--fd='));
  out.splice(1, 0, '--fd=0');
  return out;
}

/** Listens on `path` from Node and returns the server (its handle's fd is the listening socket). */
function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ path, backlog: 8 }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function serverFd(server: Server): number {
  const handle: unknown = Reflect.get(server, '_handle');
  const fd: unknown = typeof handle === 'object' && handle !== null ? Reflect.get(handle, 'fd') : undefined;
  if (typeof fd !== 'number' || fd < 0) throw new Error('listening socket has no file descriptor');
  return fd;
}

/**
 * Creates the vhost-user listening socket at `socketPath` and launches virtiofsd on it, detached
 * (own session), stdio to `logFile`. Kata's qemu.go `setupVirtiofsd` passes a Go listener's fd the same way.
 *
 * How: Node listens on `<path>.tmp`, renames it to `socketPath`, hands the fd to virtiofsd as its
 * stdin (libuv makes fds 0–2 blocking in the child, which virtiofsd's `accept` needs), then closes
 * its own copy so Node never accepts a connection meant for virtiofsd (closing unlinks only the
 * old `.tmp` name). QEMU connects to `socketPath` whenever it starts; the backlog holds it.
 *
 * @example
 * ```ts
 * const v = await launchVirtiofsd({ argv: virtiofsdArgs({ source, cache: 'auto' }),
 *   socketPath: join(runDir, 'vfs.sock'), logFile: join(runDir, 'virtiofsd.log') });
 * ```
 */
export async function launchVirtiofsd(opts: LaunchVirtiofsdOptions): Promise<VirtiofsdProcess> {
  assertSocketPath(`${opts.socketPath}.tmp`);
  if (opts.argv[0] === undefined) throw new SpawnError('(empty argv)');
  const [binary, ...args] = inNetns(withListenFd(opts.argv), opts.netns) as [string, ...string[]];
  const tmp = `${opts.socketPath}.tmp`;
  const [server, log] = await Promise.all([listen(tmp), open(opts.logFile, 'a', 0o600)]);
  let child: ChildProcess;
  try {
    await rename(tmp, opts.socketPath);
    child = spawn(binary, args, {
      stdio: [serverFd(server), log.fd, log.fd],
      detached: true,
      shell: false,
      env: opts.env ?? process.env,
    });
  } catch (err) {
    await rm(opts.socketPath, { force: true });
    throw err;
  } finally {
    server.close();
    void log.close();
  }
  const pid = child.pid;
  if (pid === undefined) {
    const cause = await new Promise<unknown>((resolve) => child.once('error', resolve));
    await rm(opts.socketPath, { force: true });
    throw new SpawnError(binary, { cause });
  }
  child.on('error', () => {});
  const watch = watchExit(child, pid);
  return {
    pid,
    child,
    exit$: watch.exit$,
    exited: watch.exited,
    exitInfo: watch.current,
    kill: (signal) => (watch.current() === undefined ? child.kill(signal) : false),
    readLog: () => readFile(opts.logFile, 'utf8').catch(() => ''),
    socketPath: opts.socketPath,
    logFile: opts.logFile,
  };
}
