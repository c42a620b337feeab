// The sandbox actor against real QEMU with no guest: start, pause/resume (ours and someone else's),
// the stop ladder, wait-only stops, crashes, virtiofsd exits, failed starts — each census-checked.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { filter, firstValueFrom, toArray } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { QemuExitedEarlyError, RunDirError } from '../../src/process/errors.js';
import { QmpClient } from '../../src/qmp/client.js';
import { SandboxStartError, SandboxStartTimeoutError, SandboxStateError } from '../../src/sandbox/errors.js';
import type { LifecycleEvent, Sandbox } from '../../src/sandbox/sandbox.js';
import { alive, descendants, leftovers } from '../helpers/census.js';
import { QEMU, VIRTIOFSD } from '../helpers/env.js';
import { bareSpec, freshId, openTracked, quietLogger, stopAll, tempRunBase } from './sandbox-fixtures.js';

const base = tempRunBase();
afterEach(stopAll);
afterAll(() => rmSync(base, { recursive: true, force: true }));

function record(sb: Sandbox): Promise<LifecycleEvent[]> {
  return firstValueFrom(
    sb.events$.pipe(
      filter((e): e is LifecycleEvent => e.type === 'lifecycle'),
      toArray(),
    ),
  );
}

function transitions(events: readonly LifecycleEvent[]): string[] {
  return events.map((e) => `${e.from}->${e.to}${e.reason ? `:${e.reason}` : ''}`);
}

/** Nothing of ours is left: no child process, nothing in the run base. */
function expectClean(): void {
  expect(descendants()).toEqual([]);
  expect(leftovers(base)).toEqual([]);
}

describe('sandbox lifecycle on a guest-less QEMU', () => {
  const qemu = QEMU as string;

  it('starts to running, pauses, resumes and stops with reason requested, leaving nothing behind', async () => {
    const sb = openTracked(bareSpec(qemu), { runDir: base, logger: quietLogger });
    const events = record(sb);
    await sb.start();
    expect(sb.phase).toBe('running');
    const [qemuPid] = sb.getPids();
    expect(qemuPid).toBeGreaterThan(0);
    expect(alive(qemuPid as number)).toBe(true);
    expect(statSync(sb.runDir).mode & 0o777).toBe(0o700);
    await sb.check();
    const { vcpus } = await sb.getThreadIDs();
    expect(vcpus.size).toBe(1);
    expect(vcpus.get(0)).toBeGreaterThan(0);
    await sb.pause();
    expect((await sb.qmp?.execute('query-status'))?.status).toBe('paused');
    await sb.resume();
    expect((await sb.qmp?.execute('query-status'))?.status).toBe('running');
    const out = await sb.stop();
    expect(out.stopReason).toBe('requested');
    expect(transitions(await events)).toEqual([
      'created->starting',
      'starting->running',
      'running->paused:requested',
      'paused->running:requested',
      'running->stopping:requested',
      'stopping->stopped:requested',
    ]);
    expect(alive(qemuPid as number)).toBe(false);
    expectClean();
  });

  it('settles a pause and a resume asked for at once: the later one wins, the earlier is refused as superseded', async () => {
    const sb = openTracked(bareSpec(qemu), { runDir: base, logger: quietLogger });
    await sb.start();
    // The resume cancels the pause in flight; the VM stays running and neither call is left waiting.
    const [p, r] = await Promise.allSettled([sb.pause(), sb.resume()]);
    expect(p.status).toBe('rejected');
    expect((p as PromiseRejectedResult).reason).toBeInstanceOf(SandboxStateError);
    expect((p as PromiseRejectedResult).reason.message).toMatch(/pause was superseded by a resume/);
    expect(r.status).toBe('fulfilled');
    expect((await sb.qmp?.execute('query-status'))?.status).toBe('running');
    expect(sb.phase).toBe('running');
    // pause, resume, pause: the last pause wins.
    const all = await Promise.allSettled([sb.pause(), sb.resume(), sb.pause()]);
    expect(all.at(-1)?.status).toBe('fulfilled');
    // QEMU answers after carrying out every command sent before, and its events come first.
    expect((await sb.qmp?.execute('query-status'))?.status).toBe('paused');
    expect(sb.phase).toBe('paused');
    await sb.stop();
    expectClean();
  });

  it('resumes a VM launched with -S (cont) before reporting running', async () => {
    const sb = openTracked(bareSpec(qemu, { frozen: true }), { runDir: base, logger: quietLogger });
    await sb.start();
    expect((await sb.qmp?.execute('query-status'))?.status).toBe('running');
    await sb.stop();
    expectClean();
  });

  it('follows a pause and a resume made by someone else on the second QMP monitor', async () => {
    const sb = openTracked(bareSpec(qemu), { runDir: base, logger: quietLogger });
    const events = record(sb);
    await sb.start();
    const other = await QmpClient.connectUnix(sb.plan.paths.qmpSocket as string);
    const paused = firstValueFrom(sb.events$.pipe(filter((e) => e.type === 'lifecycle')));
    await other.execute('stop');
    expect(await paused).toMatchObject({ from: 'running', to: 'paused', reason: 'external' });
    expect(sb.phase).toBe('paused');
    const resumed = firstValueFrom(sb.events$.pipe(filter((e) => e.type === 'lifecycle')));
    await other.execute('cont');
    expect(await resumed).toMatchObject({ from: 'paused', to: 'running', reason: 'external' });
    other.close();
    await sb.stop();
    expect(transitions(await events)).toContain('running->paused:external');
    expectClean();
  });

  it('reports crashed when QEMU is killed with SIGKILL, and cleans up', async () => {
    const sb = openTracked(bareSpec(qemu), { runDir: base, logger: quietLogger });
    const events = record(sb);
    await sb.start();
    const [pid] = sb.getPids();
    process.kill(pid as number, 'SIGKILL');
    const out = await sb.stopped;
    expect(out.stopReason).toBe('crashed');
    const last = (await events).at(-1);
    expect(last).toMatchObject({ from: 'stopping', to: 'stopped', reason: 'crashed' });
    // The exit QEMU died of, not the socket error its QMP stream ended with.
    expect(out.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(out.stopError?.exit).toEqual({ which: 'qemu', code: null, signal: 'SIGKILL' });
    expect(out.stopError?.error).toBeUndefined();
    expectClean();
  });

  it('treats a quit sent by someone else as a requested stop', async () => {
    const sb = openTracked(bareSpec(qemu), { runDir: base, logger: quietLogger });
    await sb.start();
    const other = await QmpClient.connectUnix(sb.plan.paths.qmpSocket as string);
    other.expectDisconnect();
    await other.execute('quit').catch(() => undefined);
    const out = await sb.stopped;
    expect(out.stopReason).toBe('requested');
    expect(out.stopError?.shutdown).toMatchObject({ guest: false, reason: 'host-qmp-quit' });
    expect(out.shutdownBy).toBe('host');
    expect(out.exit).toEqual({ code: 0, signal: null });
    expectClean();
  });

  it('with waitOnly sends no quit: it waits, then escalates to SIGTERM per the policy', async () => {
    const sb = openTracked(bareSpec(qemu), {
      runDir: base,
      logger: quietLogger,
      stopPolicy: { quitTimeoutMs: 150, termTimeoutMs: 3000 },
    });
    await sb.start();
    const out = await sb.stop({ waitOnly: true });
    expect(out.stopReason).toBe('requested');
    expectClean();
  });

  it('stop is idempotent and accepted in every phase, including before start', async () => {
    const sb = openTracked(bareSpec(qemu), { runDir: base, logger: quietLogger });
    const events = record(sb);
    const [a, b] = await Promise.all([sb.stop(), sb.stop()]);
    expect(a.stopReason).toBe('requested');
    expect(b).toBe(a);
    expect(transitions(await events)).toEqual(['created->stopped:requested']);
    await expect(sb.start()).rejects.toBeInstanceOf(SandboxStateError);
    expectClean();
  });

  it('a stop while starting aborts the start and removes everything it created', async () => {
    const sb = openTracked(bareSpec(qemu), { runDir: base, logger: quietLogger });
    const events = record(sb);
    const started = sb.start();
    expect(sb.phase).toBe('starting');
    const out = await sb.stop();
    expect(out.stopReason).toBe('requested');
    await expect(started).rejects.toBeInstanceOf(SandboxStartError);
    expect(transitions(await events)).toEqual([
      'created->starting',
      'starting->stopping:requested',
      'stopping->stopped:requested',
    ]);
    expectClean();
  });

  it('fails the start at once with QEMU stderr when QEMU rejects its command line', async () => {
    const sb = openTracked(bareSpec(qemu, { extra: ['-device', 'no-such-device-vmactor'] }), {
      runDir: base,
      logger: quietLogger,
    });
    const err = await sb.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SandboxStartError);
    const cause = (err as SandboxStartError).cause;
    expect(cause).toBeInstanceOf(QemuExitedEarlyError);
    expect((cause as QemuExitedEarlyError).stderr).toContain('no-such-device-vmactor');
    expect((cause as QemuExitedEarlyError).exitCode).toBe(1);
    expect((await sb.stopped).stopReason).toBe('start-failed');
    expectClean();
  });

  it('fails the start when the binary does not exist, with nothing left', async () => {
    const spec = bareSpec(qemu);
    const sb = openTracked(
      { id: spec.id, plan: (dir) => ({ ...spec.plan(dir), argv: ['/nonexistent/qemu-vmactor'] }) },
      { runDir: base, logger: quietLogger },
    );
    await expect(sb.start()).rejects.toBeInstanceOf(SandboxStartError);
    expect((await sb.stopped).stopReason).toBe('start-failed');
    expectClean();
  });

  it('fails the start at its deadline when the monitor never greets, and kills what it spawned', async () => {
    const spec = bareSpec(qemu);
    const sb = openTracked(
      {
        id: spec.id,
        startTimeoutMs: 300,
        // A process that holds fd 3 open and never speaks QMP.
        plan: (dir) => ({ ...spec.plan(dir), argv: ['/usr/bin/tail', '-f', '/dev/null'] }),
      },
      { runDir: base, logger: quietLogger, qmpTimeoutMs: 60_000 },
    );
    const err = await sb.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as SandboxStartError).cause).toBeInstanceOf(SandboxStartTimeoutError);
    expect(((err as SandboxStartError).cause as SandboxStartTimeoutError).timeoutMs).toBe(300);
    expectClean();
  });

  it('refuses a second sandbox with the same id while the first runs (run dir exists)', async () => {
    const id = freshId('dup');
    const first = openTracked(bareSpec(qemu, { id }), { runDir: base, logger: quietLogger });
    await first.start();
    const second = openTracked(bareSpec(qemu, { id }), { runDir: base, logger: quietLogger });
    const err = await second.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as SandboxStartError).cause).toBeInstanceOf(RunDirError);
    expect(first.phase).toBe('running');
    await first.stop();
    expectClean();
  });

  it('stops and cleans up through Symbol.asyncDispose', async () => {
    let pid = 0;
    {
      await using sb = openTracked(bareSpec(qemu), { runDir: base, logger: quietLogger });
      await sb.start();
      pid = sb.getPids()[0] as number;
    }
    expect(alive(pid)).toBe(false);
    expectClean();
  });

  it('stops when its AbortSignal fires', async () => {
    const ac = new AbortController();
    const sb = openTracked(bareSpec(qemu), { runDir: base, logger: quietLogger, signal: ac.signal });
    await sb.start();
    ac.abort();
    expect((await sb.stopped).stopReason).toBe('requested');
    expectClean();
  });
});

describe('sandbox with virtiofsd on a guest-less QEMU', () => {
  const qemu = QEMU as string;
  const virtiofsd = VIRTIOFSD as string;
  const share = mkdtempSync('/tmp/vmactor-share-');
  writeFileSync(join(share, 'hello.txt'), 'hello from the host\n');
  afterAll(() => rmSync(share, { recursive: true, force: true }));

  it('reports QEMU first then virtiofsd in getPids, and stops both (QEMU first)', async () => {
    const logs: { msg?: string }[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => logs.push(JSON.parse(l)) });
    const sb = openTracked(bareSpec(qemu, { virtiofsd: { binary: virtiofsd, source: share } }), {
      runDir: base,
      logger,
    });
    await sb.start();
    const pids = sb.getPids();
    expect(pids).toHaveLength(2);
    const [qemuPid, vPid] = pids as [number, number];
    expect(alive(qemuPid) && alive(vPid)).toBe(true);
    expect((await sb.stop()).stopReason).toBe('requested');
    expect(alive(qemuPid) || alive(vPid)).toBe(false);
    const order = logs.map((l) => l.msg).filter((m) => m === 'qemu stopped' || m === 'virtiofsd stopped');
    expect(order).toEqual(['qemu stopped', 'virtiofsd stopped']);
    expectClean();
  });

  it('stops with reason virtiofsd-exited when virtiofsd is killed', async () => {
    const sb = openTracked(bareSpec(qemu, { virtiofsd: { binary: virtiofsd, source: share } }), {
      runDir: base,
      logger: quietLogger,
    });
    const events = record(sb);
    await sb.start();
    const [, vPid] = sb.getPids();
    process.kill(vPid as number, 'SIGKILL');
    const out = await sb.stopped;
    expect(out.stopReason).toBe('virtiofsd-exited');
    expect(out.stopError?.exit).toMatchObject({ which: 'virtiofsd', signal: 'SIGKILL' });
    expect(transitions(await events).slice(-2)).toEqual([
      'running->stopping:virtiofsd-exited',
      'stopping->stopped:virtiofsd-exited',
    ]);
    expectClean();
  });
});
