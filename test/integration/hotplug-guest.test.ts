// Hot plug seen from inside the default guest (createSandbox, guestAgent: true, TCG): a disk appears
// under the name the result reports and goes after unplug, vCPUs go online, memory grows by a pc-dimm.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { HotplugResult } from '../../src/hotplug/index.js';
import { descendants, leftovers } from '../helpers/census.js';
import { cleanupFiles, image, qmpView, runBase, startSandbox } from './hotplug-fixtures.js';
import { stopAll } from './sandbox-fixtures.js';

afterEach(async () => {
  await stopAll();
  expect(descendants()).toEqual([]);
  expect(leftovers(runBase)).toEqual([]);
});
afterAll(cleanupFiles);

describe('hot plug seen from inside the default guest', () => {
  it('shows a hot-plugged virtio-blk disk in the guest under the reported name, and it is gone after unplug', async () => {
    const h = await startSandbox({ guestAgent: true, waitGuest: true });
    const agent = await h.sb.agent();
    const r = (await h.sb.operate({
      kind: 'hotplug',
      device: { kind: 'block', id: 'hpdisk', file: image(h, 'hp.img', 2) },
    })) as HotplugResult;
    expect(r).toMatchObject({ id: 'hpdisk', confirmedBy: 'guest', placement: { pciPath: '02/01' } });
    expect(r.guestPath).toMatch(/^vd[a-z]$/);
    const disks = await agent.request('blk', []);
    expect(disks.find((d) => d.name === r.guestPath)).toMatchObject({
      serial: 'hpdisk',
      sizeBytes: 2 * 1024 * 1024,
    });
    expect(await h.sb.operate({ kind: 'unplug', id: 'hpdisk' })).toEqual({
      kind: 'unplug',
      id: 'hpdisk',
      removed: true,
      pending: false,
    });
    expect((await agent.request('blk', [])).map((d) => d.serial)).not.toContain('hpdisk');
    expect(await qmpView(h)).toMatchObject({ devices: [], blockNodes: [] });
    // The freed slot is handed out again.
    const again = (await h.sb.operate({
      kind: 'hotplug',
      device: { kind: 'block', id: 'hpdisk2', file: image(h, 'hp2.img', 3) },
    })) as HotplugResult;
    expect(again.placement.pciPath).toBe('02/01');
  });

  // Found here: hot-adding the highest socket first (QEMU's listing order, which Kata's qemu.go
  // follows) left the TCG guest unable to online the CPU (stop_machine soft lockup); lowest ids go first.
  it('brings hot-added vCPUs online in the guest', async () => {
    const h = await startSandbox({ guestAgent: true, waitGuest: true });
    const agent = await h.sb.agent();
    expect((await agent.request('cpus', [])).online).toBe(1);
    expect(await h.sb.operate({ kind: 'resize-vcpus', count: 3 })).toMatchObject({
      currentVCPUs: 1,
      newVCPUs: 3,
      added: 2,
      confirmedBy: 'guest',
    });
    expect((await agent.request('online-cpus', [])).online).toBe(3);
    expect((await qmpView(h)).cpus).toEqual(['cpu-0', 'cpu-1']);
  });

  it('grows guest memory after a pc-dimm hot-add', async () => {
    const h = await startSandbox({ guestAgent: true, waitGuest: true });
    const agent = await h.sb.agent();
    const before = (await agent.request('mem', [])).memTotalKiB;
    const r = await h.sb.operate({ kind: 'resize-memory', mib: 640, memoryBlockSizeMiB: 128 });
    expect(r).toMatchObject({ previousMiB: 512, currentMiB: 640, via: 'pc-dimm', confirmedBy: 'guest' });
    const after = await agent.request('online-mem', []);
    expect(after.memTotalKiB - before).toBeGreaterThan(100 * 1024);
    expect(after.blocksOffline).toBe(0);
  });
});
