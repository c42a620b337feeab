// Test harness for the plan acceptance tests: synthetic kernels, launching a plan with -S, a minimal QMP client.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { filter, firstValueFrom, timeout } from 'rxjs';
import type { Arch } from '../../src/qemu/arch/types.js';
import type { QemuPlan } from '../../src/qemu/plan.js';
import { QmpClient } from '../../src/qmp/client.js';
import type { QmpEvent } from '../../src/qmp/types.js';
import { withFds } from './qemu-plan-fds.js';

/**
 * Writes a kernel file QEMU's loader accepts for `arch` (it is never executed: QEMU runs with -S).
 * amd64: a bzImage header (HdrS, protocol 2.15); ppc64le: an ELF64 PPC64 with one PT_LOAD;
 * arm64 and s390x load raw images.
 */
export function writeSyntheticKernel(arch: Arch, path: string): string {
  if (arch === 'amd64') {
    const b = Buffer.alloc(64 * 1024);
    b[0x1f1] = 1;
    b.writeUInt16LE(0xaa55, 0x1fe);
    b.write('HdrS', 0x202, 'latin1');
    b.writeUInt16LE(0x020f, 0x206);
    b[0x211] = 0x01;
    b.writeUInt32LE(0x7fffffff, 0x22c);
    writeFileSync(path, b);
  } else if (arch === 'ppc64le') {
    const e = Buffer.alloc(0x1000);
    e.write('\x7fELF', 0, 'latin1');
    e[4] = 2;
    e[5] = 1;
    e[6] = 1;
    e.writeUInt16LE(2, 16);
    e.writeUInt16LE(21, 18);
    e.writeUInt32LE(1, 20);
    e.writeBigUInt64LE(0x800000n, 24);
    e.writeBigUInt64LE(64n, 32);
    e.writeUInt16LE(64, 52);
    e.writeUInt16LE(56, 54);
    e.writeUInt16LE(1, 56);
    e.writeUInt32LE(1, 64);
    e.writeUInt32LE(7, 68);
    e.writeBigUInt64LE(0x100n, 72);
    e.writeBigUInt64LE(0x800000n, 80);
    e.writeBigUInt64LE(0x800000n, 88);
    e.writeBigUInt64LE(0x100n, 96);
    e.writeBigUInt64LE(0x100n, 104);
    e.writeBigUInt64LE(0x10n, 112);
    writeFileSync(path, e);
  } else {
    writeFileSync(path, Buffer.alloc(64 * 1024));
  }
  return path;
}

/** Writes a kernel and an initrd for `arch` into `dir`. */
export function syntheticGuest(arch: Arch, dir: string): { kernel: string; initrd: string } {
  const kernel = writeSyntheticKernel(arch, join(dir, `vmlinuz-${arch}`));
  const initrd = join(dir, `initrd-${arch}.img`);
  writeFileSync(initrd, Buffer.alloc(4096));
  return { kernel, initrd };
}

/** What the verification needs from a QMP client. */
export interface QmpLike {
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T>;
  /** The first event named `event` whose data matches `data`, within `deadlineMs`. */
  nextEvent(event: string, data: Record<string, unknown>, deadlineMs?: number): Promise<QmpEvent>;
  close(): void;
}

/** src/qmp's QmpClient seen through {@link QmpLike} (commands are not all in its typed table). */
function adapt(client: QmpClient): QmpLike {
  return {
    execute: <T>(command: string, args?: Record<string, unknown>) =>
      client.executeUntyped(command, args, { timeoutMs: 10_000 }) as Promise<T>,
    nextEvent: (event, data, deadlineMs = 10_000) =>
      firstValueFrom(
        client.events$.pipe(
          filter((e) => e.event === event && Object.entries(data).every(([k, v]) => e.data[k] === v)),
          timeout(deadlineMs),
        ),
      ),
    close: () => client.close(),
  };
}

/** A QEMU started from a plan with -S. */
export interface LaunchedQemu {
  readonly child: ChildProcess;
  readonly qmp: QmpLike;
  stderr(): string;
  /** SIGKILL by PID and wait for the exit. */
  kill(): Promise<void>;
}

/** QEMU exited before QMP was ready: carries its stderr. */
export class EarlyExitError extends Error {
  constructor(
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`QEMU exited early (code ${exitCode}): ${stderr.trim()}`);
  }
}

/**
 * Spawns `argv` (+ `-S`) with fd 3 as a socketpair carrying QMP (the plan's `-chardev socket,fd=3`),
 * negotiates capabilities, and resolves; an early exit rejects with {@link EarlyExitError}.
 * `wrap` prefixes the command (e.g. `ip netns exec <ns>`).
 */
export async function launchWithQmp(
  argv: readonly string[],
  opts: { wrap?: readonly string[]; deadlineMs?: number } = {},
): Promise<LaunchedQemu> {
  const full = [...(opts.wrap ?? []), ...argv, '-S'];
  const [cmd, ...args] = full;
  if (cmd === undefined) throw new Error('empty argv');
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], shell: false });
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => {
    err += c;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL');
    }
    await exited;
  };
  // Generous: `-overcommit mem-lock=on` locks all guest RAM before QEMU greets (seconds on a busy host).
  const deadlineMs = opts.deadlineMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const early = new Promise<never>((_, reject) => {
    // 'close' comes after the exit and after stdio (stderr included) has drained.
    child.once('close', (code) => reject(new EarlyExitError(code, err)));
    child.once('error', reject);
    timer = setTimeout(() => reject(new Error(`QMP not ready within ${deadlineMs} ms: ${err}`)), deadlineMs);
  });
  early.catch(() => undefined);
  const connecting = QmpClient.connect(child.stdio[3] as Socket, { greetingTimeoutMs: deadlineMs });
  connecting.catch(() => undefined);
  let qmp: QmpLike;
  try {
    qmp = adapt(await Promise.race([connecting, early]));
  } catch (e) {
    // The QMP socket may break before the exit is seen: an exit with stderr explains it.
    const exitErr = await Promise.race([
      early.then(
        () => undefined,
        (x: unknown) => x,
      ),
      settle(2_000),
    ]);
    await kill();
    throw exitErr instanceof EarlyExitError ? exitErr : e;
  } finally {
    clearTimeout(timer);
  }
  return {
    child,
    qmp,
    stderr: () => err,
    kill: async () => {
      qmp.close();
      await kill();
    },
  };
}

function settle(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}

/** Starts virtiofsd from the plan and resolves once it waits for QEMU (its stderr says so). */
export async function startVirtiofsd(plan: QemuPlan): Promise<{ kill(): Promise<void> } | undefined> {
  if (!plan.virtiofsd) return undefined;
  // `--fd=N`: virtiofsd gets its listening socket as fd N, bound at the plan's socket path (the
  // launcher's job; here a python3 prefix binds it and execs virtiofsd with it at N).
  const fdArg = plan.virtiofsd.argv.find((a) => a.startsWith('--fd='));
  const prefix =
    fdArg !== undefined && plan.paths.virtiofsdSocket !== undefined
      ? withFds([
          { fd: Number(fdArg.slice('--fd='.length)), kind: 'listen', path: plan.paths.virtiofsdSocket },
        ])
      : [];
  const [cmd, ...args] = [...prefix, ...plan.virtiofsd.argv];
  const child = spawn(cmd as string, args, { stdio: ['ignore', 'ignore', 'pipe'], shell: false });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`virtiofsd not ready: ${err}`)), 10_000);
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('Waiting for vhost-user socket connection')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`virtiofsd exited (${code}): ${err}`));
    });
  });
  return {
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, 'SIGKILL');
      }
      await exited;
    },
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function limited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
