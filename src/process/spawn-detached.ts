// Spawning a detached child without forking this process on the event loop: posix_spawnp on a
// libuv worker (native/src/spawn.c), stdio as pipes, one socketpair end at a chosen fd, reaped
// through a pidfd. child_process.spawn forks the whole controller on the main thread and waits
// there for the exec: 1 ms when idle, 10-35 ms while other QEMUs start (the loop blocked meanwhile).
import { closeSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { AsyncSubject } from 'rxjs';
import { SpawnError } from './errors.js';
import type { ExitInfo, ExitWatch } from './exit.js';
import { pidfdBinding } from './pidfd.js';

/** A child spawned by {@link spawnDetached}. */
export interface DetachedChild {
  readonly pid: number;
  /** Our end of the child's stdout and stderr pipes. */
  readonly stdout: Socket;
  readonly stderr: Socket;
  /** Our end of the socketpair at the child's `socketFd`. */
  readonly socket: Socket;
  /** The exit, once the pidfd says the child ended (reaped then). */
  readonly exit: ExitWatch;
  /** Sends `signal` to exactly this child; false once it was reaped. */
  kill(signal: NodeJS.Signals): boolean;
  /** Stops keeping Node alive for it (a detached VM runs on; it is still reaped if it exits first). */
  unref(): void;
}

/** What to spawn and which fds it gets. */
export interface SpawnDetachedOptions {
  readonly binary: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** The child's fd for our socketpair's other end (QEMU's QMP: 3). */
  readonly socketFd: number;
  /** Our open fds passed at these numbers in the child. */
  readonly fds: readonly { readonly fd: number; readonly hostFd: number }[];
}

/** Signal number → name; the first name wins (SIGABRT, not its alias SIGIOT), as Node reports it. */
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, n] of Object.entries(constants.signals)) {
  if (!SIGNAL_NAMES.has(n)) SIGNAL_NAMES.set(n, name as NodeJS.Signals);
}

function envp(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out.push(`${k}=${v}`);
  return out;
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {}
  }
}

/**
 * Spawns `binary` in its own session with stdin `/dev/null`, stdout/stderr pipes to us, our
 * socketpair's other end at `socketFd` and `fds` at their numbers; resolves once it runs (or
 * rejects with {@link SpawnError}, e.g. ENOENT). The event loop never waits for the spawn.
 *
 * @example
 * ```ts
 * const c = await spawnDetached({ binary: 'qemu-system-x86_64', args, env: process.env, socketFd: 3, fds: [] });
 * const qmp = await QmpClient.connect(c.socket);
 * ```
 */
export async function spawnDetached(opts: SpawnDetachedOptions): Promise<DetachedChild> {
  const b = pidfdBinding();
  const devNull = openSync('/dev/null', 'r');
  const out = b.pipeCloexec();
  const err = b.pipeCloexec();
  const pair = b.socketpairCloexec();
  const theirs = [devNull, out[1], err[1], pair[1]];
  const pairs = [devNull, 0, out[1], 1, err[1], 2, pair[1], opts.socketFd];
  for (const f of opts.fds) pairs.push(f.hostFd, f.fd);
  let pid: number;
  try {
    pid = await b.spawnAsync(opts.binary, [opts.binary, ...opts.args], envp(opts.env), pairs);
  } catch (cause) {
    closeAll([...theirs, out[0], err[0], pair[0]]);
    throw new SpawnError(opts.binary, { cause });
  } finally {
    closeAll(theirs);
  }
  let pidfd: number;
  try {
    pidfd = b.pidfdOpen(pid); // our unreaped child: the pid cannot be reused before we reap it
  } catch (cause) {
    // Out of fds (EMFILE): a child we cannot watch must not run (it stays a zombie until we exit).
    process.kill(pid, 'SIGKILL');
    closeAll([out[0], err[0], pair[0]]);
    throw new SpawnError(opts.binary, { cause });
  }
  const { exit, unref } = watchReap(pid, pidfd);
  return {
    unref,
    pid,
    stdout: new Socket({ fd: out[0], readable: true, writable: false }),
    stderr: new Socket({ fd: err[0], readable: true, writable: false }),
    socket: new Socket({ fd: pair[0], readable: true, writable: true }),
    exit,
    kill: (signal) => exit.current() === undefined && b.pidfdSendSignal(pidfd, constants.signals[signal]),
  };
}

/** The child's exit from its pidfd becoming readable (an event); Node stays alive for it until `unref()`. */
function watchReap(pid: number, pidfd: number): { exit: ExitWatch; unref: () => void } {
  const b = pidfdBinding();
  const subject = new AsyncSubject<ExitInfo>();
  let info: ExitInfo | undefined;
  let resolve!: (i: ExitInfo) => void;
  const exited = new Promise<ExitInfo>((r) => {
    resolve = r;
  });
  let keepAlive = true;
  let handle: object | undefined;
  const onReadable = (): void => {
    handle = undefined;
    const r = b.pidfdReap(pidfd);
    if (r === null) {
      handle = b.pidfdWatch(pidfd, onReadable, keepAlive);
      return;
    }
    closeSync(pidfd);
    info = { pid, code: r.code, signal: r.signal === null ? null : (SIGNAL_NAMES.get(r.signal) ?? null) };
    subject.next(info);
    subject.complete();
    resolve(info);
  };
  handle = b.pidfdWatch(pidfd, onReadable, true);
  const unref = (): void => {
    if (!keepAlive || handle === undefined) return;
    keepAlive = false;
    b.pidfdUnwatch(handle);
    handle = b.pidfdWatch(pidfd, onReadable, false);
  };
  return { exit: { exit$: subject.asObservable(), exited, current: () => info }, unref };
}
