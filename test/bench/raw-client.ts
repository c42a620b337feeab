// The end-to-end benchmarks' raw baseline: a minimal Node QMP client (one socket, ids, a Map of
// pending replies, event callbacks; no schema, no types, no deadlines) and a bare QEMU launch.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

type Msg = { id?: number; event?: string; data?: Record<string, unknown>; return?: unknown; error?: unknown };

/** The least a QMP client can do: write `{"execute":…,"id":N}` lines, match replies by id. */
export class RawClient {
  private buf = '';
  private id = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(m: Msg) => void>();
  private greeted: (() => void) | undefined;
  /** Resolves with the greeting line's object. */
  readonly greeting: Promise<void>;

  constructor(readonly socket: Socket) {
    this.greeting = new Promise((r) => {
      this.greeted = r;
    });
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (d: string) => {
      this.buf += d;
      let nl = this.buf.indexOf('\n');
      while (nl !== -1) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (line.length > 0) this.onLine(line);
        nl = this.buf.indexOf('\n');
      }
    });
  }

  private onLine(line: string): void {
    const m = JSON.parse(line) as Msg & { QMP?: unknown };
    if (m.QMP !== undefined) {
      this.greeted?.();
      return;
    }
    if (m.id !== undefined) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p?.reject(new Error(JSON.stringify(m.error)));
      else p?.resolve(m.return);
      return;
    }
    for (const l of this.listeners) l(m);
  }

  /** Writes one command (`args` already JSON, or none) and resolves with its `return`. */
  cmd(execute: string, argsJson?: string): Promise<unknown> {
    const id = ++this.id;
    const p = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.socket.write(
      argsJson === undefined
        ? `{"execute":"${execute}","id":${id}}\n`
        : `{"execute":"${execute}","arguments":${argsJson},"id":${id}}\n`,
    );
    return p;
  }

  /** Resolves with the first event `match` accepts (listen before sending what causes it). */
  event(match: (m: Msg) => boolean): Promise<Msg> {
    return new Promise((resolve) => {
      const l = (m: Msg): void => {
        if (!match(m)) return;
        this.listeners.delete(l);
        resolve(m);
      };
      this.listeners.add(l);
    });
  }

  /** Greeting, then `qmp_capabilities`. */
  async handshake(): Promise<void> {
    await this.greeting;
    await this.cmd('qmp_capabilities');
  }
}

/** A QEMU launched by the raw side: its client, its exit, its dir (sockets). */
export interface RawVm {
  readonly child: ChildProcess;
  readonly qmp: RawClient;
  readonly exited: Promise<void>;
  readonly dir: string;
}

/**
 * Spawns `argv` (QMP on fd 3, a socketpair) detached, stdout piped only when `stdout` (a serial
 * console on stdio), greets, negotiates, and sends `cont` when the argv has `-S`.
 */
export async function rawLaunch(
  argv: readonly string[],
  dir: string,
  opts: { stdout?: boolean } = {},
): Promise<RawVm> {
  mkdirSync(dir, { mode: 0o700, recursive: true });
  const [bin, ...args] = argv as [string, ...string[]];
  const child = spawn(bin, args, {
    stdio: ['ignore', opts.stdout ? 'pipe' : 'ignore', 'ignore', 'pipe'],
    detached: true,
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const qmp = new RawClient(child.stdio[3] as Socket);
  await qmp.handshake();
  if (args.includes('-S')) await qmp.cmd('cont');
  return { child, qmp, exited, dir };
}

/** `quit`, then the exit (reaped). */
export async function rawQuit(vm: RawVm): Promise<void> {
  vm.qmp.cmd('quit').catch(() => {});
  await vm.exited;
}

/** Kills a raw VM if it still runs and removes its dir (teardown after a failure). */
export async function rawKill(vm: RawVm | undefined): Promise<void> {
  if (!vm) return;
  if (vm.child.exitCode === null && vm.child.signalCode === null) {
    vm.child.kill('SIGKILL');
    await vm.exited;
  }
  rmSync(vm.dir, { recursive: true, force: true });
}

/** Resolves once `text` appeared in what `read` delivers (a socket or a stdout pipe). */
export function waitForText(stream: NodeJS.ReadableStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer | string): void => {
      buf += d.toString();
      if (buf.includes(text)) {
        stream.off('data', onData);
        resolve();
      } else if (buf.length > 4 * text.length) buf = buf.slice(-2 * text.length);
    };
    stream.on('data', onData);
  });
}

/** Connects to a Unix socket path. */
export function connectPath(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}
