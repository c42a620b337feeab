// QEMU as a child: QMP on fd 3, its own session, output to a log file in the run dir, survival of
// its controller's death (reattach through the second monitor), and virtiofsd's listening socket.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { QemuExitedEarlyError } from '../../src/process/errors.js';
import { spawnQemu } from '../../src/process/qemu-process.js';
import { launchVirtiofsd, withListenFd } from '../../src/process/virtiofsd-process.js';
import { QmpClient } from '../../src/qmp/client.js';
import { SandboxStartError } from '../../src/sandbox/errors.js';
import { alive, descendants, leftovers } from '../helpers/census.js';
import { QEMU, VIRTIOFSD } from '../helpers/env.js';
import {
  barePlan,
  bareSpec,
  freshId,
  openTracked,
  quietLogger,
  stopAll,
  tempRunBase,
} from './sandbox-fixtures.js';

const base = tempRunBase();
afterEach(stopAll);
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Session id of a process (field 6 of /proc/<pid>/stat). */
function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

/** Retries `check` with backoff until it holds or the deadline passes (for processes that are not our children). */
async function eventually(check: () => boolean, deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  for (let wait = 5; !check(); wait = Math.min(wait * 2, 200)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, wait));
  }
  return true;
}

describe('QEMU as a child process', () => {
  const qemu = QEMU as string;

  it('speaks QMP on fd 3, runs in its own session, and writes its output to the log file', async () => {
    const dir = join(base, freshId('p'));
    mkdirSync(dir, { mode: 0o700 });
    const argv = [...barePlan(qemu)(dir).argv, '-machine', 'graphics=off,nonexistent-prop-vmactor=on'];
    const bad = await spawnQemu({ argv, logFile: join(dir, 'qemu.log') });
    expect((await bad.exited).code).toBe(1);
    expect(await bad.readLog()).toContain('nonexistent-prop-vmactor');

    const p = await spawnQemu({ argv: barePlan(qemu)(dir).argv, logFile: join(dir, 'qemu.log') });
    expect(sessionOf(p.pid)).toBe(p.pid);
    expect(sessionOf(p.pid)).not.toBe(sessionOf(process.pid));
    const qmp = await QmpClient.connect(p.qmpSocket);
    expect((await qmp.execute('query-status')).status).toBe('running');
    qmp.expectDisconnect();
    await qmp.execute('quit').catch(() => undefined);
    expect((await p.exited).code).toBe(0);
    rmSync(dir, { recursive: true, force: true });
    expect(descendants()).toEqual([]);
  });

  it('keeps running when its controlling Node process dies, and can be reached on the second monitor', async () => {
    const fixture = fileURLToPath(new URL('./process-controller-fixture.ts', import.meta.url));
    const id = freshId('survivor');
    const controller = spawn(process.execPath, ['--import', 'tsx', fixture, qemu, base, id], {
      stdio: ['ignore', 'pipe', 'inherit'],
      shell: false,
    });
    const line = await new Promise<string>((resolve) => {
      let buf = '';
      controller.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
      });
    });
    const { pid, runDir, qmpSocket } = JSON.parse(line) as { pid: number; runDir: string; qmpSocket: string };
    try {
      const gone = new Promise((r) => controller.once('exit', r));
      controller.kill('SIGKILL');
      await gone;
      // The controller is gone; QEMU (its own session, output to files) still runs.
      expect(alive(pid)).toBe(true);
      const qmp = await QmpClient.connectUnix(qmpSocket);
      expect((await qmp.execute('query-status')).status).toBe('running');
      qmp.expectDisconnect();
      await qmp.execute('quit').catch(() => undefined);
      await qmp.closed;
      // Not our child any more: init reaps it; wait for that with a bounded backoff.
      expect(await eventually(() => !alive(pid), 10_000)).toBe(true);
    } finally {
      // Never leave the orphan behind, whatever failed above (it is ours: we know its PID).
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      if (controller.exitCode === null && controller.signalCode === null) controller.kill('SIGKILL');
      rmSync(runDir, { recursive: true, force: true });
    }
    expect(leftovers(base)).toEqual([]);
  });
});

describe('virtiofsd on a listening socket we create', () => {
  const qemu = QEMU as string;
  const virtiofsd = VIRTIOFSD as string;

  it('replaces any socket option by --fd=0', () => {
    expect(withListenFd(['/v', '--socket-path=/x', '-o', 'source=/s', '--fd=9'])).toEqual([
      '/v',
      '--fd=0',
      '-o',
      'source=/s',
    ]);
  });

  it('accepts QEMU on the socket path, with its output logged through pino', async () => {
    const share = mkdtempSync('/tmp/vmactor-share-');
    writeFileSync(join(share, 'f'), 'x');
    const logs: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => logs.push(JSON.parse(l)) });
    const sb = openTracked(bareSpec(qemu, { virtiofsd: { binary: virtiofsd, source: share } }), {
      runDir: base,
      logger,
    });
    await sb.start();
    await sb.stop();
    rmSync(share, { recursive: true, force: true });
    expect(logs).toContainEqual(
      expect.objectContaining({
        source: 'virtiofsd',
        msg: expect.stringContaining('Received vhost-user socket connection'),
      }),
    );
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it('fails the start with QEMU stderr when virtiofsd cannot serve (missing source dir)', async () => {
    const sb = openTracked(
      bareSpec(qemu, { virtiofsd: { binary: virtiofsd, source: '/nonexistent/vmactor' } }),
      {
        runDir: base,
        logger: quietLogger,
      },
    );
    const err = await sb.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SandboxStartError);
    expect(String((err as Error).message)).toMatch(/exited early/);
    expect((err as SandboxStartError).cause).toBeInstanceOf(QemuExitedEarlyError);
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it('launchVirtiofsd leaves the socket at the requested path, not the temporary name', async () => {
    const dir = join(base, freshId('v'));
    mkdirSync(dir, { mode: 0o700 });
    const v = await launchVirtiofsd({
      argv: [virtiofsd, '-o', `source=${dir}`, '-o', 'cache=none', '-f'],
      socketPath: join(dir, 'vfs.sock'),
      logFile: join(dir, 'virtiofsd.log'),
    });
    expect(leftovers(dir).sort()).toEqual(['vfs.sock', 'virtiofsd.log']);
    v.kill('SIGTERM');
    await v.exited;
    rmSync(dir, { recursive: true, force: true });
    expect(descendants()).toEqual([]);
  });
});
