// createSandbox wires the hot-plug layer (src/hotplug) by default: `sb.operate()` hot-plugs a disk the guest
// sees (phase two through the default guest's agent) and unplugs it; memory grows by a pc-dimm.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SandboxConfig } from '../../src/config/types.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { createTracked, freshId, quietLogger, stopAll, tempRunBase } from './sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
const files = mkdtempSync('/tmp/vmactor-hp-default-');
afterEach(stopAll);
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(files, { recursive: true, force: true });
});

function config(): SandboxConfig {
  return {
    id: freshId('hpd'),
    hypervisor: {
      kernelPath: g?.kernel,
      initrdPath: g?.initrd,
      memorySize: 512,
      defaultMaxVCPUs: 2,
      blockDeviceDriver: 'virtio-blk',
    },
  };
}

describe('hot-plug through createSandbox with the default guest', () => {
  it('hot-plugs a virtio-blk disk the guest sees and can write, then unplugs it', async () => {
    const disk = join(files, 'disk1.img');
    writeFileSync(disk, '');
    truncateSync(disk, 8 * 1024 * 1024);
    const sb = await createTracked(config(), {
      runDir: base,
      logger: quietLogger,
      accelerator: 'tcg',
      guestAgent: true,
    });
    const phases: string[] = [];
    sb.events$.subscribe((e) => {
      if (e.type === 'operation') phases.push(e.phase);
    });
    await sb.start();
    const agent = await sb.agent();
    await agent.waitReady({ timeout: 60_000 });
    const before = await agent.request('blk', [], { timeout: 10_000 });

    await sb.operate(
      { kind: 'hotplug', device: { kind: 'block', id: 'disk1', file: disk } },
      { id: 'plug-disk1' },
    );
    const after = await agent.request('blk', [], { timeout: 10_000 });
    const added = after.filter((d) => !before.some((b) => b.name === d.name));
    expect(added).toHaveLength(1);
    expect(added[0]?.serial).toBe('disk1');
    const dev = `/dev/${added[0]?.name}`;
    await agent.request('write-block', [dev, 'written-by-the-guest'], { timeout: 10_000 });
    const back = await agent.request('read-block', [dev, 20], { timeout: 10_000 });
    expect(Buffer.from(back.base64, 'base64').toString('utf8')).toBe('written-by-the-guest');

    await sb.operate({ kind: 'unplug', id: 'disk1' }, { id: 'unplug-disk1' });
    const gone = await agent.request('blk', [], { timeout: 10_000 });
    expect(gone.map((d) => d.name)).toEqual(before.map((d) => d.name));
    expect(phases).toEqual(['requested', 'applied', 'confirmed', 'requested', 'applied', 'confirmed']);

    expect((await sb.stop()).stopReason).toBe('requested');
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it('sets virtio-mem up when the sandbox first runs, and a memory resize grows the guest through it', async () => {
    const cfg = config();
    const sb = await createTracked(
      { ...cfg, hypervisor: { ...cfg.hypervisor, virtioMem: true } },
      { runDir: base, logger: quietLogger, accelerator: 'tcg', guestAgent: true },
    );
    const ops: { id: string; phase: string }[] = [];
    sb.events$.subscribe((e) => {
      if (e.type === 'operation') ops.push({ id: e.id, phase: e.phase });
    });
    await sb.start();
    const agent = await sb.agent();
    await agent.waitReady({ timeout: 60_000 });
    const before = (await agent.request('online-mem', [], { timeout: 10_000 })).memTotalKiB;

    // Serialized behind the setup the sandbox queued when it first ran.
    const r = await sb.operate({ kind: 'resize-memory', mib: 768 }, { id: 'grow' });
    expect(r).toMatchObject({ previousMiB: 512, currentMiB: 768, via: 'virtio-mem' });
    expect(ops.filter((o) => o.id === 'setup-virtio-mem').map((o) => o.phase)).toEqual([
      'requested',
      'applied',
      'confirmed',
    ]);
    expect(ops.findIndex((o) => o.id === 'grow')).toBeGreaterThan(
      ops.findIndex((o) => o.id === 'setup-virtio-mem' && o.phase === 'confirmed'),
    );
    const qmpSize = await sb.qmp?.execute('qom-get', { path: 'virtiomem0', property: 'size' });
    expect(qmpSize).toBe(256 * 1024 * 1024);
    const after = (await agent.request('online-mem', [], { timeout: 10_000 })).memTotalKiB;
    expect(after - before).toBeGreaterThan(200 * 1024);

    expect((await sb.stop()).stopReason).toBe('requested');
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });
});
