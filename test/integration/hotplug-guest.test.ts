// Hot-plug seen from inside the default guest under TCG: disks appear and can be written and read,
// vCPUs go online and away, memory grows after a pc-dimm and a virtio-mem resize, a NIC appears.
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentGuestProbe, runOperation, setupVirtioMem } from '../../src/hotplug/index.js';
import {
  cleanupVms,
  contextFor,
  launchVm,
  qmpView,
  recordedView,
  testConfig,
  type Vm,
} from './hotplug-harness.js';

const netnses: string[] = [];

afterEach(async () => {
  await cleanupVms();
  for (const ns of netnses.splice(0)) execFileSync('ip', ['netns', 'delete', ns]);
});

async function bootGuest(
  opts: Parameters<typeof launchVm>[0] = {},
): Promise<Vm & { agent: NonNullable<Vm['agent']> }> {
  const vm = await launchVm({ guest: true, ...opts });
  if (!vm.agent) throw new Error('no agent');
  await vm.agent.waitReady({ timeout: 60_000 });
  return vm as Vm & { agent: NonNullable<Vm['agent']> };
}

describe('hot-plug seen from inside the default guest', () => {
  it('shows a hot-plugged virtio-blk disk in the guest, which writes and reads it back, and it is gone after unplug', async () => {
    const vm = await bootGuest();
    const ctx = contextFor(vm, { guest: agentGuestProbe(vm.agent) });
    const file = join(vm.dir, 'hp.img');
    await writeFile(file, Buffer.alloc(2 * 1024 * 1024));
    const r = await runOperation(ctx, { kind: 'hotplug-block', id: 'hpdisk', file });
    expect(r).toMatchObject({
      pciPath: '02/01',
      confirmedBy: 'guest',
      guestName: expect.stringMatching(/^vd[a-z]$/),
    });
    const dev = (r as { guestName: string }).guestName;
    const blk = await vm.agent.request('blk', []);
    expect(blk).toContainEqual({ name: dev, sizeBytes: 2 * 1024 * 1024, serial: 'hpdisk', readOnly: false });
    const text = 'written by the guest into a hot-plugged disk';
    expect(await vm.agent.request('write-block', [dev, text])).toEqual({ written: text.length });
    expect((await readFile(file)).subarray(0, text.length).toString()).toBe(text);
    const back = await vm.agent.request('read-block', [dev, text.length]);
    expect(Buffer.from(back.base64, 'base64').toString()).toBe(text);

    expect(await runOperation(ctx, { kind: 'unplug', id: 'hpdisk' })).toEqual({
      kind: 'unplug',
      id: 'hpdisk',
      removed: true,
      pending: false,
    });
    expect((await vm.agent.request('blk', [])).map((d) => d.serial)).not.toContain('hpdisk');
    expect(await qmpView(vm)).toEqual(recordedView(ctx.state));
    expect(ctx.state.bridges[0]?.devices).toEqual({});
  });

  // Found here: hot-adding the highest socket first (QEMU's listing order, which the seeds follow)
  // left the TCG guest unable to online the CPU (stop_machine soft lockup); lowest ids go first now.
  it('brings hot-added vCPUs online in the guest and takes the most recently added away again', async () => {
    const vm = await bootGuest();
    // QEMU 7.2 TCG crashes on a later hot-plug after a vCPU unplug: allowed here, the VM is discarded.
    const ctx = contextFor(vm, {
      guest: agentGuestProbe(vm.agent),
      deadlines: { guestMs: 20_000 },
      allowTcgVcpuUnplug: true,
    });
    expect((await vm.agent.request('cpus', [])).online).toBe(1);
    expect(await runOperation(ctx, { kind: 'resize-vcpus', count: 3 })).toMatchObject({
      currentVCPUs: 1,
      newVCPUs: 3,
      added: 2,
      confirmedBy: 'guest',
    });
    expect((await vm.agent.request('online-cpus', [])).online).toBe(3);
    const last = ctx.state.vcpus.at(-1)?.id;
    expect(await runOperation(ctx, { kind: 'resize-vcpus', count: 2 })).toMatchObject({
      currentVCPUs: 3,
      newVCPUs: 2,
      removed: 1,
      confirmedBy: 'guest',
    });
    expect(ctx.state.vcpus.map((c) => c.id)).not.toContain(last);
    expect((await vm.agent.request('cpus', [])).online).toBe(2);
    expect(await qmpView(vm)).toEqual(recordedView(ctx.state));
  });

  it('grows guest memory after a pc-dimm hot-add', async () => {
    const vm = await bootGuest();
    const ctx = contextFor(vm, { guest: agentGuestProbe(vm.agent) });
    const before = (await vm.agent.request('mem', [])).memTotalKiB;
    const r = await runOperation(ctx, { kind: 'resize-memory', mib: 640, memoryBlockSizeMiB: 128 });
    expect(r).toMatchObject({ previousMiB: 512, currentMiB: 640, via: 'pc-dimm', confirmedBy: 'guest' });
    const after = await vm.agent.request('online-mem', []);
    expect(after.memTotalKiB - before).toBeGreaterThan(100 * 1024);
    expect(after.blocksOffline).toBe(0);
  });

  it('grows guest memory after a virtio-mem resize (set up on a running guest, confirmed by MEMORY_DEVICE_SIZE_CHANGE)', async () => {
    const vm = await bootGuest();
    const ctx = contextFor(vm, { guest: agentGuestProbe(vm.agent), config: testConfig({ virtioMem: true }) });
    await setupVirtioMem(ctx);
    const before = (await vm.agent.request('online-mem', [])).memTotalKiB;
    const r = await runOperation(ctx, { kind: 'resize-memory', mib: 768 });
    expect(r).toMatchObject({ previousMiB: 512, currentMiB: 768, via: 'virtio-mem', confirmedBy: 'guest' });
    expect(await vm.qmp.execute('qom-get', { path: 'virtiomem0', property: 'size' })).toBe(256 * 1024 * 1024);
    const after = (await vm.agent.request('online-mem', [])).memTotalKiB;
    expect(after - before).toBeGreaterThan(200 * 1024);
  });

  it('shows a hot-plugged NIC on a real tap (QEMU in a test-created netns) in the guest by its MAC', async () => {
    const ns = `vmactor-hp-${process.pid}-g`;
    execFileSync('ip', ['netns', 'add', ns]);
    netnses.push(ns);
    execFileSync('ip', ['-n', ns, 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap']);
    const vm = await bootGuest({ netns: ns });
    const ctx = contextFor(vm, { guest: agentGuestProbe(vm.agent) });
    const r = await runOperation(ctx, {
      kind: 'hotplug-net',
      id: 'nic1',
      ifname: 'tap0',
      mac: '52:54:00:12:34:99',
    });
    expect(r).toMatchObject({ pciPath: '02/01', confirmedBy: 'guest' });
    expect(await vm.agent.request('net', [])).toContainEqual(
      expect.objectContaining({ mac: '52:54:00:12:34:99' }),
    );
    expect(await runOperation(ctx, { kind: 'unplug', id: 'nic1' })).toMatchObject({ removed: true });
    expect((await vm.agent.request('net', [])).map((n) => n.mac)).not.toContain('52:54:00:12:34:99');
  });
});
