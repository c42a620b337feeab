// The public Sandbox API through createSandbox and the barrel: QMP deadlines against a hung
// (SIGSTOPped) QEMU, the one event stream with a hot plug's phases between lifecycle events, the
// stop result of a SIGKILLed QEMU, and the handle's config/capabilities/devices.
import { rmSync } from 'node:fs';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  QmpTimeoutError,
  type SandboxConfig,
  type SandboxEvent,
  SandboxInputError,
  type StopResult,
} from '../../src/index.js';
import { alive, descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { createTracked, freshId, quietLogger, stopAll, tempRunBase } from './sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
afterEach(stopAll);
afterAll(() => rmSync(base, { recursive: true, force: true }));

function config(): SandboxConfig {
  return {
    id: freshId('api'),
    hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 512, defaultMaxVCPUs: 2 },
  };
}

function expectClean(): void {
  expect(descendants()).toEqual([]);
  expect(leftovers(base)).toEqual([]);
}

/** `lifecycle:from->to`, `operation:id:phase`, `device:change:id` for compact order checks. */
function label(e: SandboxEvent): string {
  switch (e.type) {
    case 'lifecycle':
      return `lifecycle:${e.from}->${e.to}`;
    case 'operation':
      return `operation:${e.id}:${e.phase}`;
    case 'device':
      return `device:${e.change}:${e.deviceId ?? '?'}`;
    case 'command-failed':
      return `command-failed:${e.command}`;
    case 'migration':
      return `migration:${e.direction}:${e.status}`;
    case 'state-write-failed':
      return `state-write-failed:${e.error.code}`;
    case 'reattached':
      return `reattached:${e.phase}`;
  }
}

describe('the Sandbox API through createSandbox', () => {
  it('check() rejects with QmpTimeoutError within its deadline while QEMU is SIGSTOPped, and answers again after SIGCONT', async () => {
    const sb = await createTracked(config(), {
      runDir: base,
      logger: quietLogger,
      accelerator: 'tcg',
      qmpCommandTimeoutMs: 500,
    });
    await sb.start();
    const [pid] = sb.getPids();
    expect(pid).toBeGreaterThan(0);
    await sb.check();
    process.kill(pid as number, 'SIGSTOP');
    try {
      const t0 = performance.now();
      const err = await sb.check().catch((e: unknown) => e);
      const elapsed = performance.now() - t0;
      expect(err).toBeInstanceOf(QmpTimeoutError);
      expect(err).toMatchObject({ code: 'ERR_QMP_TIMEOUT', waitingFor: 'query-status', timeoutMs: 500 });
      expect(elapsed).toBeGreaterThanOrEqual(490);
      expect(elapsed).toBeLessThan(2_000);
      const threads = await sb.getThreadIDs().catch((e: unknown) => e);
      expect(threads).toBeInstanceOf(QmpTimeoutError);
    } finally {
      process.kill(pid as number, 'SIGCONT');
    }
    // The late replies to the timed-out commands are dropped; the next ones get their own answers.
    await expect(sb.check()).resolves.toBeUndefined();
    const { vcpus } = await sb.getThreadIDs();
    expect([...vcpus.keys()]).toEqual([0]);
    expect(sb.phase).toBe('running');
    expect((await sb.stop()).stopReason).toBe('requested');
    expectClean();
  });

  it('pause() rejects with QmpTimeoutError while QEMU is SIGSTOPped; QEMU carries the stop out after SIGCONT and the sandbox follows it', async () => {
    const sb = await createTracked(config(), {
      runDir: base,
      logger: quietLogger,
      accelerator: 'tcg',
      qmpCommandTimeoutMs: 500,
    });
    await sb.start();
    const [pid] = sb.getPids();
    const lifecycle: string[] = [];
    sb.events$.subscribe((e) => {
      if (e.type === 'lifecycle') lifecycle.push(`${e.to}:${e.reason ?? ''}`);
    });
    // The `stop` is delivered before its deadline passes: QEMU runs it once it runs again, and its
    // STOP event moves the sandbox (subscribed now, while it is running).
    const paused = firstValueFrom(
      sb.events$.pipe(filter((e) => e.type === 'lifecycle' && e.to === 'paused')),
    );
    process.kill(pid as number, 'SIGSTOP');
    let err: unknown;
    try {
      const t0 = performance.now();
      err = await sb.pause().catch((e: unknown) => e);
      expect(performance.now() - t0).toBeLessThan(2_000);
    } finally {
      process.kill(pid as number, 'SIGCONT');
    }
    expect(err).toBeInstanceOf(QmpTimeoutError);
    expect(err).toMatchObject({ waitingFor: 'stop', timeoutMs: 500 });
    expect(sb.phase).toBe('running');
    await paused;
    expect(lifecycle).toEqual(['paused:external']);
    expect((await sb.qmp?.execute('query-status'))?.status).toBe('paused');
    await sb.resume();
    expect(sb.phase).toBe('running');
    expect((await sb.stop()).stopReason).toBe('requested');
    expectClean();
  });

  it('sb.events$ shows a hot plug requested → applied → confirmed (and the device plugged) between running and stopping', async () => {
    const sb = await createTracked(config(), { runDir: base, logger: quietLogger, accelerator: 'tcg' });
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      sb.events$.subscribe({ next: (e) => seen.push(label(e)), complete: resolve });
    });
    await sb.start();
    const result = await sb.operate({ kind: 'hotplug-memory', mib: 128 }, { id: 'dimm' });
    expect(result).toMatchObject({ kind: 'hotplug-memory', sizeMiB: 128 });
    const dimmId = (result as { id: string }).id;
    await sb.stop();
    await done;
    expect(seen).toEqual([
      'lifecycle:created->starting',
      'lifecycle:starting->running',
      'operation:dimm:requested',
      'operation:dimm:applied',
      'operation:dimm:confirmed',
      `device:plugged:${dimmId}`,
      'lifecycle:running->stopping',
      'lifecycle:stopping->stopped',
    ]);
    expectClean();
  });

  it('after a SIGKILL of QEMU the stop result carries the signal, crashed, and no guest shutdown or panic', async () => {
    const sb = await createTracked(config(), { runDir: base, logger: quietLogger, accelerator: 'tcg' });
    await sb.start();
    const [pid] = sb.getPids();
    process.kill(pid as number, 'SIGKILL');
    const out: StopResult = await sb.stopped;
    expect(alive(pid as number)).toBe(false);
    expect(out.stopReason).toBe('crashed');
    expect(out.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(out.stopError?.exit).toEqual({ which: 'qemu', code: null, signal: 'SIGKILL' });
    // The QMP stream's ECONNRESET/EOF does not stand in for the exit.
    expect(out.stopError?.error).toBeUndefined();
    expect(out.shutdownBy).toBeNull();
    expect(out.guestPanicked).toBe(false);
    expect(typeof out.stderrTail === 'string' || out.stderrTail === null).toBe(true);
    expectClean();
  });

  it('exposes the validated config, the capabilities it implies, and the device record', async () => {
    const cfg = config();
    const sb = await createTracked(cfg, { runDir: base, logger: quietLogger, accelerator: 'tcg' });
    expect(sb.config?.id).toBe(cfg.id);
    expect(sb.config?.hypervisor.memorySize).toBe(512);
    expect(sb.capabilities()).toMatchObject({
      blockDevice: true,
      blockDeviceHotplug: true,
      multiQueue: true,
      vcpuHotplug: true,
    });
    expect(Array.isArray(sb.devices())).toBe(true);
    const bad = await sb.resizeMemory(-1).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(SandboxInputError);
    expect((bad as SandboxInputError).message).toBe('Expected `mib` to be a positive integer, got `-1`');
    await sb.stop();
    expectClean();
  });
});
