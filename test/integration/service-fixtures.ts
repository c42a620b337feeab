// Fixtures of the service tests: a real `vmactor serve` process from dist, the CLI from dist, raw HTTP over the socket.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sseFrames } from '../../src/cli/verbs/streams.js';

/** bin/vmactor.js (runs dist: `npx tsc -p tsconfig.build.json` first). */
export const BIN = fileURLToPath(new URL('../../bin/vmactor.js', import.meta.url));

/** A running daemon. */
export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly socket: string;
  /** stdout so far. */
  out(): string;
  /** Resolves with the exit code once the daemon ended. */
  readonly exited: Promise<number | null>;
}

const socketDirs: string[] = [];

/** A fresh socket path in a new dir (the daemon makes the dir 0700); removed by {@link removeTempSockets}. */
export function tempSocket(): string {
  const dir = mkdtempSync('/tmp/vmactor-svc-');
  socketDirs.push(dir);
  return join(dir, 'api', 'api.sock');
}

/** Removes every dir {@link tempSocket} made (call in `afterAll`). */
export function removeTempSockets(): void {
  for (const dir of socketDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

const daemons: Daemon[] = [];

/** SIGTERMs every daemon still running (call in `afterAll`: a failed test leaves none behind). */
export async function stopDaemons(): Promise<void> {
  for (const d of daemons.splice(0)) {
    if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
    await d.exited;
  }
}

/** Starts `vmactor serve --socket SOCKET …` with the run base `base`; resolves once it listens. */
export function startDaemon(base: string, socket: string, args: readonly string[] = []): Promise<Daemon> {
  const child = spawn(process.execPath, [BIN, 'serve', '--socket', socket, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, VMACTOR_RUN_DIR: base, VMACTOR_ACCEL: 'tcg' },
    shell: false,
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening on')) {
        const d = { child, pid: child.pid as number, socket, out: () => out, exited };
        daemons.push(d);
        resolve(d);
      }
    });
    void exited.then((code) =>
      reject(new Error(`vmactor serve exited ${code} before listening:\n${out}${err}`)),
    );
  });
}

/** One CLI run's outcome. */
export interface CliRun {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/** Runs `vmactor ARGS` from dist. */
export function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
      shell: false,
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

/** A raw HTTP answer. */
export interface Answer {
  readonly status: number;
  readonly body: string;
  json<T = Record<string, unknown>>(): T;
}

/** One raw HTTP request over the socket (body given as bytes or a string, sent as is). */
export function http(
  socket: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text) });
      });
    });
    // A body the service refuses early (413) may meet a closed socket while it is still written.
    req.once('error', reject);
    req.end(body);
  });
}

/**
 * Quits a QEMU left running by a daemon that exited (it is no longer our descendant) through its
 * second monitor, `<runDir>/qmp.sock`; resolves when QEMU closes the monitor.
 */
export function quitQemu(runDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(join(runDir, 'qmp.sock'));
    let buf = '';
    let step = 0;
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        if (step === 0) s.write('{"execute":"qmp_capabilities"}\n');
        else if (step === 1) s.write('{"execute":"quit"}\n');
        step += 1;
      }
    });
    s.once('close', () => resolve());
    // QEMU may reset the connection as it quits.
    s.once('error', (err) => (step >= 2 ? resolve() : reject(err)));
  });
}

/** What {@link streamBody} saw: the raw answer, and how much of the body the writer got through. */
export interface Streamed {
  readonly head: string;
  readonly body: string;
  /** Body bytes written before the service answered or cut the connection. */
  readonly sent: number;
  /** The write error that ended the upload (EPIPE/ECONNRESET once the service closed), if any. */
  readonly writeError?: string;
}

/** The body writer (a child process whose stdout is the connection): 64 KiB writes until done or cut. */
const WRITER = `
const [total, chunked] = [Number(process.argv[1]), process.argv[2] === 'chunked'];
const chunk = Buffer.alloc(64 * 1024, 0x20);
let sent = 0;
let error = '';
const out = process.stdout;
const report = () => { process.stderr.write(JSON.stringify({ sent, error })); process.exit(0); };
out.on('error', (e) => { error = e.code || e.message; report(); });
const next = () => {
  if (sent >= total) return out.write(chunked ? '0\\r\\n\\r\\n' : '', report);
  const n = Math.min(chunk.length, total - sent);
  const piece = n === chunk.length ? chunk : chunk.subarray(0, n);
  const framed = chunked ? Buffer.concat([Buffer.from(n.toString(16) + '\\r\\n'), piece, Buffer.from('\\r\\n')]) : piece;
  out.write(framed, (err) => { if (!err) { sent += n; next(); } });
};
next();
`;

/**
 * POSTs a `total`-byte body to `path`, really streaming it in 64 KiB writes: announced by
 * `content-length`, or `chunked` with no length (so only counting what arrives can stop it). The
 * body is written by a child process sharing the connection, so a write that meets the closed
 * socket (EPIPE) ends only the writer: the answer the service sent before closing is still read
 * here (Node destroys a socket on a write error, dropping what it had not read yet). The writer
 * keeps writing until the service closes the connection or the whole body is sent.
 */
export function streamBody(
  socket: string,
  path: string,
  total: number,
  mode: 'content-length' | 'chunked',
): Promise<Streamed> {
  return new Promise((resolve) => {
    const c = connect(socket);
    let answer = '';
    let spawned = false;
    // A reset after the answer (the service closed with body bytes unread) is expected: what was
    // read before it is the answer.
    c.on('error', () => undefined);
    c.once('close', () => {
      if (!spawned) resolve({ head: '', body: answer, sent: 0, writeError: 'closed before the body' });
    });
    c.on('data', (d: Buffer) => {
      answer += d.toString();
    });
    const framing = mode === 'chunked' ? 'transfer-encoding: chunked' : `content-length: ${total}`;
    c.once('connect', () => {
      c.write(
        `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${framing}\r\n\r\n`,
        () => {
          if (c.destroyed) {
            // Answered and closed before the first body byte.
            const [head = '', body = ''] = answer.split('\r\n\r\n');
            resolve({ head, body, sent: 0 });
            return;
          }
          spawned = true;
          const writer = spawn(process.execPath, ['-e', WRITER, String(total), mode], {
            stdio: ['ignore', c, 'pipe'],
            shell: false,
          });
          // spawn() stops reading a stream it hands to a child: this side keeps reading the answer.
          c.resume();
          let report = '';
          writer.stderr?.on('data', (d: Buffer) => {
            report += d.toString();
          });
          const closed = new Promise<void>((r) => c.once('close', () => r()));
          const exited = new Promise<void>((r) => writer.once('exit', () => r()));
          void Promise.all([closed, exited]).then(() => {
            const [head = '', body = ''] = answer.split('\r\n\r\n');
            const w = (report ? JSON.parse(report) : { sent: -1, error: 'no report from the writer' }) as {
              sent: number;
              error: string;
            };
            resolve({ head, body, sent: w.sent, ...(w.error ? { writeError: w.error } : {}) });
          });
        },
      );
    });
  });
}

/** One event as `GET /events` sends it (the fields the tests look at). */
export type WireEvent = {
  seq: number;
  type: string;
  sandboxId: string;
  to?: string;
  change?: string;
} & Record<string, unknown>;

/**
 * Reads `GET path` (Server-Sent Events) over `socket` until `done(events so far)` holds, then
 * closes the stream; `gap` frames are skipped. `done` may be a count.
 */
export function readEvents(
  socket: string,
  path: string,
  done: number | ((got: readonly WireEvent[]) => boolean),
  headers: Record<string, string> = {},
): Promise<WireEvent[]> {
  const enough = typeof done === 'number' ? (got: readonly WireEvent[]) => got.length === done : done;
  return new Promise((resolve, reject) => {
    const got: WireEvent[] = [];
    const req = request({ socketPath: socket, path, headers }, (res) => {
      res.setEncoding('utf8');
      res.on(
        'data',
        sseFrames((f) => {
          if (f.event === 'gap') return;
          got.push(JSON.parse(f.data) as WireEvent);
          if (enough(got)) {
            res.destroy();
            resolve(got);
          }
        }),
      );
    });
    req.once('error', reject);
    req.end();
  });
}
