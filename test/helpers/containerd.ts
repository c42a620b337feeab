// A test's own containerd (temporary config, CRI off, its own root/state/sockets) and `ctr` against it.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { hostBinary } from './env.js';

/** Absolute path of the shim binary (runs dist: `npx tsc -p tsconfig.build.json` first). */
export const SHIM = resolve('bin/containerd-shim-vmactor-v1.js');

const CONTAINERD = hostBinary('containerd');
const CTR = hostBinary('ctr');

/** Applets the test rootfs links to busybox. */
const APPLETS = ['sh', 'echo', 'sleep', 'true', 'false', 'cat', 'id', 'ls', 'pwd', 'env', 'kill', 'ps'];

/** What one `ctr` call did. */
export interface CtrResult {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running containerd of the test. */
export interface TestContainerd {
  readonly dir: string;
  readonly socket: string;
  /** VMACTOR_SHIM_DIR of the shims it starts. */
  readonly shimDir: string;
  /** A busybox rootfs (the guest build's static busybox). */
  readonly rootfs: string;
  readonly namespace: string;
  readonly process: ChildProcess;
  /** Runs `ctr --address SOCK -n NS ARGS` (never throws; look at exitCode). */
  ctr(args: readonly string[], options?: { timeoutMs?: number }): Promise<CtrResult>;
  /** Stops containerd (SIGTERM, by pid) and removes the temp dir. */
  stop(): Promise<void>;
}

/** Builds a busybox rootfs under `dir`. */
export function busyboxRootfs(dir: string): string {
  const root = join(dir, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'tmp', 'work']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
  chmodSync(join(root, 'bin', 'busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(root, 'bin', a));
  return root;
}

/** Starts containerd; resolves once it logged that it booted (its own line, no polling). */
export async function startContainerd(
  namespace: string,
  env: Readonly<Record<string, string>> = {},
): Promise<TestContainerd> {
  const dir = mkdtempSync('/tmp/vmshim-');
  const socket = join(dir, 'c.sock');
  const shimDir = join(dir, 'shim');
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      '',
    ].join('\n'),
  );
  const rootfs = busyboxRootfs(dir);
  const child = spawn(CONTAINERD, ['--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env, VMACTOR_SHIM_DIR: shimDir },
  });
  let log = '';
  await new Promise<void>((resolveBoot, reject) => {
    const timer = setTimeout(() => reject(new Error(`containerd did not boot within 30 s:\n${log}`)), 30_000);
    child.stderr?.on('data', (c: Buffer) => {
      log += c.toString();
      if (log.includes('containerd successfully booted')) {
        clearTimeout(timer);
        resolveBoot();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`containerd exited (${code}):\n${log}`));
    });
  });
  child.stderr?.resume();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    dir,
    socket,
    shimDir,
    rootfs,
    namespace,
    process: child,
    ctr: async (args, options) => {
      const r = await execa(CTR, ['--address', socket, '-n', namespace, ...args], {
        reject: false,
        stdin: 'ignore',
        timeout: options?.timeoutMs ?? 180_000,
      });
      return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Pids of live processes whose argv mentions `needle` (QEMU, virtiofsd, shims of a test dir). */
export async function processesMentioning(needle: string): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(needle)) pids.push(Number(e));
  }
  return pids;
}
