// The sandbox actor with the default guest under TCG: ready line, console, virtio-fs read in-guest,
// pause stopping guest progress, guest poweroff and a forced panic (with a memory dump) — each
// ending in the right stop reason with nothing left behind.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { filter, firstValueFrom, type Observable, toArray } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SandboxConfig } from '../../src/config/types.js';
import { GuestAgentTimeoutError } from '../../src/guest/errors.js';
import type { LifecycleEvent, Sandbox } from '../../src/sandbox/sandbox.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { createTracked, freshId, quietLogger, stopAll, tempRunBase } from './sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
afterEach(stopAll);
afterAll(() => rmSync(base, { recursive: true, force: true }));

function config(
  extra: Partial<SandboxConfig> & { hypervisor?: SandboxConfig['hypervisor'] } = {},
): SandboxConfig {
  return {
    id: freshId('g'),
    ...extra,
    hypervisor: {
      kernelPath: g?.kernel,
      initrdPath: g?.initrd,
      memorySize: 512,
      kernelParams: [{ key: 'console', value: 'hvc0' }],
      ...extra.hypervisor,
    },
  };
}

function record(sb: Sandbox): Promise<LifecycleEvent[]> {
  return firstValueFrom(
    sb.events$.pipe(
      filter((e): e is LifecycleEvent => e.type === 'lifecycle'),
      toArray(),
    ),
  );
}

function expectClean(): void {
  expect(descendants()).toEqual([]);
  expect(leftovers(base)).toEqual([]);
}

describe('sandbox with the default guest (TCG)', () => {
  it('boots to the guest ready line, keeps a readable console log, and stops cleanly', async () => {
    // loglevel=7 (after Kata's `quiet`): kernel messages reach hvc0 once init loads virtio_console.
    const cfg = config();
    const logs: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => logs.push(JSON.parse(l)) });
    const sb = await createTracked(
      { ...cfg, hypervisor: { ...cfg.hypervisor, kernelParams: [{ key: 'loglevel', value: '7' }] } },
      { runDir: base, logger, accelerator: 'tcg' },
    );
    await sb.start();
    const printk = /^\[\s*\d+\.\d+\] /;
    const kernelLine = firstValueFrom(
      (sb.console$ as Observable<string>).pipe(filter((l) => printk.test(l))),
    );
    const agent = await sb.agent();
    const { release } = await agent.waitReady({ timeout: 60_000 });
    expect(release).toMatch(/cloud-amd64/);
    await sb.check();
    const line = await kernelLine;
    expect(await sb.consoleLog()).toContain(line);
    // The console is streamed through the sandbox's child logger at debug level.
    expect(logs).toContainEqual(expect.objectContaining({ level: 20, sandboxId: cfg.id, console: line }));
    expect((await sb.stop()).stopReason).toBe('requested');
    expectClean();
  });

  it('pausing stops guest progress and resuming continues it (guest ticks)', async () => {
    const sb = await createTracked(config(), { runDir: base, logger: quietLogger, accelerator: 'tcg' });
    await sb.start();
    const agent = await sb.agent();
    await agent.waitReady({ timeout: 60_000 });
    const before = await agent.request('ticks', []);
    const hostBefore = performance.now();
    await sb.pause();
    // A paused guest cannot answer: the request runs into its deadline (a running guest answers in ms).
    await expect(agent.request('ticks', [], { timeout: 1_500 })).rejects.toBeInstanceOf(
      GuestAgentTimeoutError,
    );
    await sb.resume();
    const after = await agent.request('ticks', []);
    const hostElapsed = (performance.now() - hostBefore) / 1000;
    // Resumed, the guest served the request queued while it was paused, then ours (requests +2);
    // its clock did not run during the ≥ 1.5 s pause (uptime has 10 ms resolution).
    expect(after.requests).toBe(before.requests + 2);
    expect(after.uptime).toBeGreaterThanOrEqual(before.uptime);
    expect(after.uptime - before.uptime).toBeLessThan(hostElapsed - 1.0);
    await sb.stop();
    expectClean();
  });

  it('stops with reason guest-shutdown when the guest powers off', async () => {
    const sb = await createTracked(config(), { runDir: base, logger: quietLogger, accelerator: 'tcg' });
    const events = record(sb);
    await sb.start();
    const agent = await sb.agent();
    await agent.waitReady({ timeout: 60_000 });
    void agent.request('poweroff', []).catch(() => undefined);
    const out = await sb.stopped;
    expect(out.stopReason).toBe('guest-shutdown');
    expect(out.stopError?.shutdown).toMatchObject({ guest: true });
    expect(out).toMatchObject({ shutdownBy: 'guest', guestPanicked: false, exit: { code: 0, signal: null } });
    expect((await events).map((e) => e.to)).toEqual(['starting', 'running', 'stopping', 'stopped']);
    expectClean();
  });

  it('on a guest panic dumps guest memory first, then stops with reason guest-panicked', async () => {
    const dumps = mkdtempSync('/tmp/vmactor-dump-');
    try {
      const cfg = config({ hypervisor: { guestMemoryDumpPath: dumps, guestMemoryDumpPaging: false } });
      const sb = await createTracked(cfg, { runDir: base, logger: quietLogger, accelerator: 'tcg' });
      await sb.start();
      const agent = await sb.agent();
      await agent.waitReady({ timeout: 60_000 });
      void agent.request('panic', []).catch(() => undefined);
      const out = await sb.stopped;
      expect(out.stopReason).toBe('guest-panicked');
      expect(out.guestPanicked).toBe(true);
      expect(out.stopError?.dump).toMatchObject({ ok: true });
      const files = readdirSync(join(dumps, cfg.id));
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^vmcore-.*\.elf$/);
      expect(statSync(join(dumps, cfg.id, files[0] as string)).size).toBeGreaterThan(512 * 1024 * 1024);
      expectClean();
    } finally {
      rmSync(dumps, { recursive: true, force: true });
    }
  });

  it('reads a file written by the host through virtio-fs, in the guest', async () => {
    const share = mkdtempSync('/tmp/vmactor-share-');
    try {
      writeFileSync(join(share, 'note.txt'), 'written by the host\n');
      const sb = await createTracked(
        {
          ...config({ hypervisor: { sharedFS: 'virtio-fs' } }),
          devices: [{ kind: 'fs', type: 'virtio-fs', id: 'fs0', tag: 'hostshare', sharedDir: share }],
        },
        { runDir: base, logger: quietLogger, accelerator: 'tcg' },
      );
      await sb.start();
      expect(sb.getPids()).toHaveLength(2);
      const agent = await sb.agent();
      await agent.waitReady({ timeout: 60_000 });
      await agent.request('mount', ['virtiofs', 'hostshare', '/mnt/host'], { timeout: 30_000 });
      const { base64 } = await agent.request('read', ['/mnt/host/note.txt']);
      expect(Buffer.from(base64, 'base64').toString('utf8')).toBe('written by the host\n');
      expect((await sb.stop()).stopReason).toBe('requested');
      expectClean();
    } finally {
      rmSync(share, { recursive: true, force: true });
    }
  });
});
