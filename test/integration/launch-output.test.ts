// QEMU's output goes through the controller: teed to qemu.log, a bounded tail kept in memory. A
// start QEMU refuses on a full run-dir filesystem still reports QEMU's words; consoleLog() returns
// what console$ streamed when console.log cannot be written; QEMU ignores SIGPIPE, so it outlives
// the reader of its output pipes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom, type Observable, toArray } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SandboxConfig } from '../../src/config/types.js';
import { QemuExitedEarlyError } from '../../src/process/errors.js';
import { spawnQemu } from '../../src/process/qemu-process.js';
import { QmpClient } from '../../src/qmp/client.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { SandboxStartError } from '../../src/sandbox/errors.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest, isRoot, QEMU } from '../helpers/env.js';
import { barePlan, freshId, quietLogger, stopAll, tempRunBase, tracked } from './sandbox-fixtures.js';

isRoot();
const g = guest('cloud');
const mounts: string[] = [];
const base = tempRunBase();
afterEach(async () => {
  await stopAll();
  for (const m of mounts.splice(0)) {
    execFileSync('umount', [m]);
    rmdirSync(m);
  }
  expect(descendants()).toEqual([]);
});
afterAll(() => execFileSync('rm', ['-rf', base]));

/** A 256 KiB tmpfs of our own under /tmp (mode 0700), unmounted after the test. */
function smallTmpfs(): string {
  const dir = mkdtempSync('/tmp/vmactor-full-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

/** Writes into `dir` until its filesystem says ENOSPC. */
function fill(dir: string): void {
  let err: unknown;
  try {
    writeFileSync(join(dir, 'filler'), Buffer.alloc(1024 * 1024, 1));
  } catch (e) {
    err = e;
  }
  expect((err as NodeJS.ErrnoException | undefined)?.code).toBe('ENOSPC');
}

function config(): SandboxConfig {
  return {
    id: freshId('out'),
    hypervisor: {
      kernelPath: g.kernel,
      initrdPath: g.initrd,
      memorySize: 512,
      kernelParams: [{ key: 'loglevel', value: '7' }],
    },
  };
}

describe('QEMU output through the controller', () => {
  it('a start QEMU refuses on a full run-dir filesystem reports what QEMU printed', async () => {
    const runBase = smallTmpfs();
    fill(runBase);
    const sb = tracked(
      await createSandbox(config(), { runDir: runBase, logger: quietLogger, accelerator: 'tcg' }),
    );
    const err = await sb.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SandboxStartError);
    const cause = (err as SandboxStartError).cause;
    expect(cause).toBeInstanceOf(QemuExitedEarlyError);
    // QEMU's own words (its pid file cannot be written on the full filesystem), though qemu.log could not hold them.
    expect((cause as QemuExitedEarlyError).stderr).toMatch(
      /qemu-system-x86_64: cannot create PID file: Failed to write pid file/,
    );
    expect((cause as QemuExitedEarlyError).exitCode).toBe(1);
    await sb.stopped;
    expect(leftovers(runBase)).toEqual(['filler']);
  });

  it('consoleLog() returns what console$ streamed when console.log cannot be written', async () => {
    const runBase = smallTmpfs();
    const sb = tracked(
      await createSandbox(config(), { runDir: runBase, logger: quietLogger, accelerator: 'tcg' }),
    );
    await sb.start();
    fill(runBase);
    const streamed = firstValueFrom((sb.console$ as Observable<string>).pipe(toArray()));
    const agent = await sb.agent();
    await agent.waitReady({ timeout: 60_000 });
    const fileSize = statSync(join(sb.runDir, 'console.log')).size;
    await sb.stop();
    // Read after the stop: every streamed line is in, though the file stopped short (ENOSPC).
    const text = await sb.consoleLog();
    expect(Buffer.byteLength(text)).toBeGreaterThan(fileSize);
    const lines = (await streamed).filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(text).toContain(l);
  });

  it('QEMU ignores SIGPIPE: with the reader of its output pipes gone it keeps serving QMP, and writing its last words does not kill it', async () => {
    const dir = join(base, freshId('pipe'));
    mkdirSync(dir, { mode: 0o700 });
    const p = await spawnQemu({ argv: barePlan(QEMU)(dir).argv, logFile: join(dir, 'qemu.log') });
    const qmp = await QmpClient.connect(p.qmpSocket);
    const sigIgn = BigInt(
      `0x${/SigIgn:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1]}`,
    );
    expect((sigIgn >> 12n) & 1n).toBe(1n); // bit 12 = signal 13, SIGPIPE
    p.release(); // our ends of its output pipes close
    expect((await qmp.execute('query-status')).status).toBe('running');
    p.kill('SIGTERM');
    // It prints `terminating on signal 15` into the dead pipe (EPIPE) and exits normally, not by SIGPIPE.
    expect(await p.exited).toMatchObject({ code: 0, signal: null });
    qmp.close();
  });

  it("keeps QEMU's last words (its exit on a signal) in the in-memory tail and the log", async () => {
    const dir = join(base, freshId('tail'));
    mkdirSync(dir, { mode: 0o700 });
    const p = await spawnQemu({ argv: barePlan(QEMU)(dir).argv, logFile: join(dir, 'qemu.log') });
    const qmp = await QmpClient.connect(p.qmpSocket);
    p.kill('SIGTERM');
    await p.exited;
    await p.outputDone;
    expect(p.outputTail()).toMatch(/terminating on signal 15/);
    expect(readFileSync(join(dir, 'qemu.log'), 'utf8')).toMatch(/terminating on signal 15/);
    qmp.close();
  });
});
