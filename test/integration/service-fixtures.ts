// Fixtures of the service tests: a real `vmactor serve` process from dist, the CLI from dist, raw HTTP over the socket.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
