// The benchmarks' raw baseline: the least a QMP client can do (split lines, write lines), and a
// bare `-S` QEMU with two monitors so vmactor's client and the raw one talk to the same process.
import { type ChildProcess, spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { QmpClient } from '../../src/qmp/index.js';
import { QEMU } from '../helpers/env.js';

/** Lines in, lines out over a socket; no ids, no parsing beyond the newline. */
export class RawLines {
  private buf = '';
  private readonly waiters: ((line: string) => void)[] = [];
  /** Lines that arrived before anyone asked (e.g. a reply in the same chunk as an event). */
  private readonly unclaimed: string[] = [];

  constructor(protected readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (d: string) => {
      this.buf += d;
      let nl = this.buf.indexOf('\n');
      while (nl !== -1) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const waiter = this.waiters.shift();
        if (waiter) waiter(line);
        else this.unclaimed.push(line);
        nl = this.buf.indexOf('\n');
      }
    });
  }

  /** The next line the peer sends. */
  readLine(): Promise<string> {
    const line = this.unclaimed.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((r) => this.waiters.push(r));
  }

  /** Writes one line. */
  writeLine(line: string): void {
    this.socket.write(`${line}\n`);
  }
}

/**
 * Runs `fn` against a bare `-S` q35 QEMU (plus `extraArgs`) with two monitors on fds 3 and 4:
 * a negotiated {@link QmpClient} and the raw socket; QEMU is killed by PID and reaped afterwards.
 */
export async function withTwoMonitors<T>(
  extraArgs: readonly string[],
  fn: (qmp: QmpClient, rawSocket: Socket) => Promise<T>,
): Promise<T> {
  const args = ['-S', '-display', 'none', '-nodefaults', '-machine', 'q35,accel=tcg', ...extraArgs];
  for (const [id, fd] of [
    ['mon0', 3],
    ['mon1', 4],
  ] as const) {
    args.push('-chardev', `socket,id=${id},fd=${fd}`, '-mon', `chardev=${id},mode=control`);
  }
  const child: ChildProcess = spawn(QEMU, args, { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    const a = child.stdio[3];
    const b = child.stdio[4];
    if (!(a instanceof Socket) || !(b instanceof Socket)) throw new Error('QEMU monitor sockets missing');
    const qmp = await QmpClient.connect(a);
    try {
      return await fn(qmp, b);
    } finally {
      qmp.close();
      b.destroy();
    }
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}
