// Shared by the reattach tests: a controller child process (reattach-controller.child.ts) started, read and SIGKILLed by PID.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { adoptProcess } from '../../src/process/adopted-process.js';
import { procFacts } from '../../src/process/proc-info.js';
import { alive } from '../helpers/census.js';
import { withDeadline } from './guest-harness.js';

const CHILD = join(import.meta.dirname, 'reattach-controller.child.ts');

/** What the controller child printed. */
export interface ControllerInfo {
  readonly runDir: string;
  readonly qemuPid: number;
  readonly virtiofsdPid: number;
  readonly phase?: string;
  readonly consoleLog?: string;
  readonly handle?: unknown;
}

export type ControllerMode = 'running' | 'paused' | 'started' | 'starting' | 'detach';

/** A host dir shared over virtio-fs, with a file the guest reads, and a 16 MiB raw disk for hot plug. */
export function hostFiles(base: string): { share: string; disk: string } {
  const share = mkdtempSync('/tmp/vmactor-share-');
  writeFileSync(join(share, 'hello.txt'), 'hello from the host\n');
  const disk = `${base}.disk1.img`;
  writeFileSync(disk, '');
  truncateSync(disk, 16 * 1024 * 1024);
  return { share, disk };
}

const children = new Set<ChildProcess>();
/** Run dirs of every controller started: what they launched is killed in {@link killControllers} even if no line came. */
const runDirs = new Set<string>();

/** Live processes (not zombies) whose command line mentions `runDir`: the sandbox's QEMU and virtiofsd. */
export function processesOf(runDir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(`${runDir}/`) && alive(Number(name)))
        out.push(Number(name));
    } catch {}
  }
  return out;
}

/** Starts a controller child and resolves with its first JSON line (deadline 200 s: a guest boot under TCG on a busy host). */
export async function startController(
  mode: ControllerMode,
  base: string,
  id: string,
  files: { share: string; disk: string },
  dumpDir?: string,
): Promise<{ child: ChildProcess; info: ControllerInfo }> {
  const extra = dumpDir ? [dumpDir] : [];
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, base, id, files.share, files.disk, mode, ...extra],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: process.env,
    },
  );
  children.add(child);
  runDirs.add(join(base, id));
  child.once('exit', () => children.delete(child));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) =>
      reject(new Error(`controller child exited (${code ?? signal}) before its line`)),
    ),
  );
  exited.catch(() => {});
  const line = new Promise<string>((resolve) =>
    createInterface({ input: child.stdout! }).once('line', resolve),
  );
  const text = await withDeadline(Promise.race([line, exited]), 200_000, 'the controller child line');
  return { child, info: JSON.parse(text) as ControllerInfo };
}

/** SIGKILLs the controller by PID and waits for its exit. */
export async function killController(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid as number, 'SIGKILL');
  await exit;
}

/** SIGKILLs a process that is not our child and waits for its exit through a pidfd (an event). */
export async function killForeign(pid: number): Promise<void> {
  const f = procFacts(pid);
  if (!f || !alive(pid)) return;
  const p = adoptProcess(pid, f.startTime, '/dev/null');
  p.kill('SIGKILL');
  await withDeadline(p.exited, 10_000, `exit of ${pid}`);
}

/**
 * Kills every controller child still running and whatever their sandboxes still run, and removes
 * their run dirs (afterEach): a test that failed midway fails alone, not every test after it.
 */
export async function killControllers(): Promise<void> {
  await Promise.all([...children].map((c) => killController(c)));
  for (const dir of runDirs) {
    for (const pid of processesOf(dir)) await killForeign(pid);
    rmSync(dir, { recursive: true, force: true });
  }
  runDirs.clear();
}
