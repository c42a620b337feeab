import { writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { listenGuestAgent } from '../../src/guest/agent-channel.js';
import type { GuestAgentClient } from '../../src/guest/agent-client.js';
import type { GuestEvent, GuestLine } from '../../src/guest/protocol.js';
import { QmpClient } from '../../src/qmp/client.js';
import { boot, cleanupGuests, listeners, tempDir } from './guest-harness.js';

const qmps: QmpClient[] = [];

afterEach(async () => {
  for (const q of qmps.splice(0)) q.close();
  await cleanupGuests();
});

interface EventVm {
  readonly dir: string;
  readonly client: GuestAgentClient;
  readonly qmp: QmpClient;
  /** Every line the guest sent, from before its ready line on. */
  readonly lines: GuestLine[];
}

/** Boots the cloud guest with a QMP monitor on a socket we listen on, and waits for its ready line. */
async function bootWithQmp(memory: string, smp: string, extra: string[] = []): Promise<EventVm> {
  const dir = await tempDir();
  const qmpListener = await listenGuestAgent(join(dir, 'qmp.sock'));
  listeners.push(qmpListener);
  const vm = await boot(
    dir,
    'cloud',
    ['-chardev', `socket,id=qmp0,path=${qmpListener.path}`, '-mon', 'chardev=qmp0,mode=control', ...extra],
    ['-m', memory],
    ['-smp', smp],
  );
  const lines: GuestLine[] = [];
  vm.client.lines$.subscribe((l) => lines.push(l));
  const qmp = await QmpClient.connect((await qmpListener.accept({ timeout: 15_000 })) as Socket);
  qmps.push(qmp);
  await vm.client.waitReady({ timeout: 45_000 });
  return { dir, client: vm.client, qmp, lines };
}

/** Arms a wait for a QMP event (before the command that causes it is sent). */
function qmpEvent(qmp: QmpClient, name: string, device: string): Promise<unknown> {
  return firstValueFrom(
    qmp.events$.pipe(
      filter((e) => e.event === name && (e.data as { device?: unknown } | undefined)?.device === device),
    ),
  );
}

const ROOT_PORTS = [
  '-device',
  'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=1',
  '-device',
  'pcie-root-port,id=rp1,bus=pcie.0,chassis=2,slot=2',
];

describe('hotplug events pushed by the cloud guest', () => {
  it('announces a hot-plugged disk with its serial and size, and its removal, without being asked', async () => {
    const vm = await bootWithQmp('512', '1', ROOT_PORTS);
    const file = join(vm.dir, 'hot.img');
    await writeFile(file, Buffer.alloc(16 * 1024 * 1024));

    const added = vm.client.waitForEvent(
      (e) => e.subsystem === 'block' && e.action === 'add' && e.serial === 'evdisk1',
      { timeout: 30_000 },
    );
    await vm.qmp.execute('blockdev-add', {
      driver: 'raw',
      'node-name': 'evdisk1',
      file: { driver: 'file', filename: file },
    });
    await vm.qmp.execute('device_add', {
      driver: 'virtio-blk-pci',
      id: 'evdisk1-dev',
      drive: 'evdisk1',
      serial: 'evdisk1',
      bus: 'rp0',
    });
    const add = await added;
    expect(add).toMatchObject({
      subsystem: 'block',
      action: 'add',
      devname: expect.stringMatching(/^vd[a-z]+$/),
      sizeBytes: 16 * 1024 * 1024,
      serial: 'evdisk1',
      readOnly: false,
      devpath: expect.stringContaining('/block/'),
    });
    if (add.subsystem !== 'block') throw new Error('unreachable');
    expect((await vm.client.request('blk', [])).map((d) => d.serial)).toContain('evdisk1');

    const removed = vm.client.waitForEvent(
      (e) => e.subsystem === 'block' && e.action === 'remove' && e.devname === add.devname,
      { timeout: 30_000 },
    );
    const deleted = qmpEvent(vm.qmp, 'DEVICE_DELETED', 'evdisk1-dev');
    await vm.qmp.execute('device_del', { id: 'evdisk1-dev' });
    expect(await removed).toMatchObject({ subsystem: 'block', action: 'remove', devname: add.devname });
    await deleted;
    expect(vm.lines.filter((l) => l.kind === 'invalid')).toEqual([]);
  });

  it('announces a hot-plugged NIC with its MAC, and its removal', async () => {
    const vm = await bootWithQmp('512', '1', ROOT_PORTS);
    await vm.qmp.execute('netdev_add', { type: 'user', id: 'evnet1' });
    const added = vm.client.waitForEvent(
      (e) => e.subsystem === 'net' && e.action === 'add' && e.mac === '52:54:00:ab:cd:01',
      { timeout: 30_000 },
    );
    await vm.qmp.execute('device_add', {
      driver: 'virtio-net-pci',
      id: 'evnic1',
      netdev: 'evnet1',
      mac: '52:54:00:ab:cd:01',
      bus: 'rp1',
      romfile: '',
    });
    const add = await added;
    expect(add).toMatchObject({ subsystem: 'net', action: 'add', ifname: expect.stringMatching(/^eth\d+$/) });
    if (add.subsystem !== 'net') throw new Error('unreachable');

    const removed = vm.client.waitForEvent(
      (e) => e.subsystem === 'net' && e.action === 'remove' && e.ifname === add.ifname,
      { timeout: 30_000 },
    );
    const deleted = qmpEvent(vm.qmp, 'DEVICE_DELETED', 'evnic1');
    await vm.qmp.execute('device_del', { id: 'evnic1' });
    expect(await removed).toMatchObject({ subsystem: 'net', action: 'remove', ifname: add.ifname });
    await deleted;
    expect((await vm.client.request('net', [])).map((n) => n.mac)).not.toContain('52:54:00:ab:cd:01');
  });

  // vCPUs are hot-added lowest socket first: highest-first left the TCG guest unable to online them.
  it('onlines a hot-added CPU by itself and says so, so that `cpus` reports it without `online-cpus`', async () => {
    const vm = await bootWithQmp('512', '1,sockets=3,cores=1,threads=1,maxcpus=3');
    const slots = await vm.qmp.execute('query-hotpluggable-cpus');
    const free = slots.filter((s) => s['qom-path'] === undefined);
    expect(free.length).toBe(2);
    const [first, second] = free.sort((a, b) => (a.props['socket-id'] ?? 0) - (b.props['socket-id'] ?? 0));
    if (!first || !second) throw new Error('unreachable');

    const added = vm.client.waitForEvent((e) => e.subsystem === 'cpu' && e.action === 'add', {
      timeout: 30_000,
    });
    const online = vm.client.waitForEvent((e) => e.subsystem === 'cpu' && e.action === 'online', {
      timeout: 30_000,
    });
    await vm.qmp.execute('device_add', { driver: first.type, id: 'evcpu1', ...first.props });
    const add = await added;
    expect(add).toMatchObject({ subsystem: 'cpu', action: 'add', cpu: 1 });
    expect(add).not.toHaveProperty('error');
    expect(await online).toMatchObject({ subsystem: 'cpu', action: 'online', cpu: 1, online: 2 });
    expect(await vm.client.request('cpus', [])).toMatchObject({ online: 2, onlineList: '0-1' });

    // `online-cpus N` still answers, now by waiting for the guest's own uevent rather than sleeping.
    const onlineSecond = vm.client.waitForEvent(
      (e) => e.subsystem === 'cpu' && e.action === 'online' && e.cpu === 2,
      { timeout: 30_000 },
    );
    await vm.qmp.execute('device_add', { driver: second.type, id: 'evcpu2', ...second.props });
    expect(await vm.client.request('online-cpus', [3], { timeout: 30_000 })).toMatchObject({
      online: 3,
      onlineList: '0-2',
    });
    expect(await onlineSecond).toMatchObject({ cpu: 2, online: 3 });
    expect(vm.lines.filter((l) => l.kind === 'invalid')).toEqual([]);
  });

  it('reports hot-added memory online with the grown MemTotal', async () => {
    const vm = await bootWithQmp('512,slots=2,maxmem=1G', '1');
    const before = await vm.client.request('mem', []);
    const grown = (e: GuestEvent) =>
      e.subsystem === 'memory' &&
      e.action === 'online' &&
      e.memTotalKiB >= before.memTotalKiB + 256 * 1024 - 1024;
    const online = vm.client.waitForEvent(grown, { timeout: 30_000 });
    const blocks: number[] = [];
    vm.client.events$.subscribe((e) => {
      if (e.subsystem === 'memory' && e.action === 'add') blocks.push(e.block);
    });
    await vm.qmp.execute('object-add', {
      'qom-type': 'memory-backend-ram',
      id: 'evmem1',
      size: 256 * 1024 * 1024,
    });
    await vm.qmp.execute('device_add', { driver: 'pc-dimm', id: 'evdimm1', memdev: 'evmem1' });
    const event = await online;
    expect(event).toMatchObject({ subsystem: 'memory', action: 'online' });
    expect(blocks.length).toBeGreaterThan(0);
    const after = await vm.client.request('mem', []);
    expect(after.memTotalKiB).toBe(event.subsystem === 'memory' ? event.memTotalKiB : -1);
    expect(after.blocksOffline).toBe(0);
  });

  it('never splits a long reply with an event line while both are in flight', async () => {
    const vm = await bootWithQmp('512,slots=2,maxmem=1G', '1', ROOT_PORTS);
    const file = join(vm.dir, 'busy.img');
    await writeFile(file, Buffer.alloc(4 * 1024 * 1024));
    // sd_mod.ko is ~150 KiB: each base64 reply line takes several writes to the port (32 KiB each).
    const module = '/lib/modules/sd_mod.ko';
    const expected = await vm.client.readFile(module, { timeout: 30_000 });
    expect(expected.length).toBeGreaterThan(64 * 1024);
    const events: GuestEvent[] = [];
    vm.client.events$.subscribe((e) => events.push(e));
    const diskAdded = vm.client.waitForEvent((e) => e.subsystem === 'block' && e.action === 'add', {
      timeout: 60_000,
    });
    const memOnline = vm.client.waitForEvent((e) => e.subsystem === 'memory' && e.action === 'online', {
      timeout: 60_000,
    });
    // Keep two long replies queued in the guest until the hotplug events have all arrived, so the
    // handler's writes land while reply lines are being written.
    let eventsIn = false;
    const allSeen = Promise.all([diskAdded, memOnline]).finally(() => {
      eventsIn = true;
    });
    const replies: Buffer[] = [];
    const pump = async () => {
      while (!eventsIn && replies.length < 200) {
        replies.push(await vm.client.readFile(module, { timeout: 60_000 }));
      }
    };
    const pumps = [pump(), pump()];
    await vm.qmp.execute('blockdev-add', {
      driver: 'raw',
      'node-name': 'busy1',
      file: { driver: 'file', filename: file },
    });
    await vm.qmp.execute('device_add', {
      driver: 'virtio-blk-pci',
      id: 'busy1-dev',
      drive: 'busy1',
      serial: 'busy1',
      bus: 'rp0',
    });
    await vm.qmp.execute('object-add', {
      'qom-type': 'memory-backend-ram',
      id: 'busymem',
      size: 256 * 1024 * 1024,
    });
    await vm.qmp.execute('device_add', { driver: 'pc-dimm', id: 'busydimm', memdev: 'busymem' });
    const [disk] = await allSeen;
    await Promise.all(pumps);
    expect(disk).toMatchObject({ serial: 'busy1' });
    expect(replies.length).toBeGreaterThan(0);
    for (const r of replies) expect(r.equals(expected)).toBe(true);
    expect(vm.lines.filter((l) => l.kind === 'invalid')).toEqual([]);
    expect(events.length).toBeGreaterThanOrEqual(3);
  });
});
