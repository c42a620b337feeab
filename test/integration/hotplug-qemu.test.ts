// Hot-plug operations on sandboxes planned by createSandbox (the default guest under TCG; phase two
// is QEMU's word unless the test waits for the guest): placements, QEMU's real refusals as typed
// errors whose class tells the rollback, capacity guards, and rollback checked through QMP.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  DuplicateDeviceError,
  HotplugInputError,
  HotplugNotSupportedError,
  HotplugRefusedError,
  type HotplugResult,
  HotplugRolledBackError,
  UnknownDeviceError,
  VfioDeviceError,
} from '../../src/hotplug/index.js';
import { alive, descendants, leftovers } from '../helpers/census.js';
import { hostBinary } from '../helpers/env.js';
import {
  cleanupFiles,
  fails,
  image,
  placementOf,
  qmpView,
  runBase,
  startSandbox,
} from './hotplug-fixtures.js';
import { stopAll } from './sandbox-fixtures.js';

const QSD = hostBinary('qemu-storage-daemon');
const daemons: number[] = [];

afterEach(async () => {
  await stopAll();
  for (const pid of daemons.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  expect(descendants()).toEqual([]);
  expect(leftovers(runBase)).toEqual([]);
});
afterAll(cleanupFiles);

describe('hot-plugging disks into a sandbox', () => {
  it('puts virtio-blk disks on bridge slots 02/01, 02/02 with share-rw and a serial, honours the spec cache, and QMP agrees', async () => {
    const h = await startSandbox();
    const r = (await h.sb.operate(
      { kind: 'hotplug', device: { kind: 'block', id: 'd1', file: image(h, 'd1.img') } },
      { id: 'op1' },
    )) as HotplugResult;
    expect(r).toEqual({
      kind: 'hotplug',
      id: 'd1',
      placement: { bus: 'pci-bridge-0', addr: '01', pciPath: '02/01', bridgeSlot: true },
      confirmedBy: 'qemu',
    });
    expect(h.phases('op1')).toEqual(['requested', 'applied', 'confirmed']);
    expect(await placementOf(h, 'd1')).toEqual({ bus: 'pci-bridge-0', slot: 1 });
    expect(await h.qmp.execute('qom-get', { path: 'd1', property: 'share-rw' })).toBe(true);
    expect(await h.qmp.execute('qom-get', { path: 'd1', property: 'serial' })).toBe('d1');

    const c = (await h.sb.operate({
      kind: 'hotplug',
      device: { kind: 'block', id: 'c1', file: image(h, 'c1.img'), cache: { direct: true, noFlush: true } },
    })) as HotplugResult;
    expect(c.placement.pciPath).toBe('02/02');
    const nodes = await h.qmp.execute('query-named-block-nodes', { flat: true });
    expect(nodes.find((n) => n['node-name'] === 'drive-c1')?.cache).toEqual({
      writeback: true,
      direct: true,
      'no-flush': true,
    });
    expect(nodes.find((n) => n['node-name'] === 'drive-d1')?.cache).toEqual({
      writeback: true,
      direct: false,
      'no-flush': false,
    });
    expect(await qmpView(h)).toMatchObject({ devices: ['c1', 'd1'], blockNodes: ['drive-c1', 'drive-d1'] });
  });

  it('refuses an invalid spec (every problem listed), a missing file, a recorded id and a kind it cannot hot-plug before any QMP', async () => {
    const h = await startSandbox();
    const bad = await fails(
      h.sb,
      { kind: 'hotplug', device: { kind: 'block', id: '9x', file: 'rel.img', shareRW: 'yes' } as never },
      'bad',
    );
    expect(bad).toBeInstanceOf(HotplugInputError);
    expect((bad as HotplugInputError).issues).toHaveLength(3);
    expect((bad as HotplugInputError).issues.join('\n')).toMatch(
      /`device\.id`[\s\S]*`device\.file`[\s\S]*`device\.shareRW`/,
    );
    expect(h.phases('bad')).toEqual(['requested', 'failed']);
    const missing = await fails(h.sb, {
      kind: 'hotplug',
      device: { kind: 'block', id: 'm1', file: join(h.dir, 'missing.img') },
    });
    expect(missing).toMatchObject({ name: 'HotplugInputError', code: 'ERR_HOTPLUG_INVALID' });
    await h.sb.operate({ kind: 'hotplug', device: { kind: 'block', id: 'd1', file: image(h, 'd1.img') } });
    expect(
      await fails(h.sb, { kind: 'hotplug', device: { kind: 'block', id: 'd1', file: image(h, 'd2.img') } }),
    ).toBeInstanceOf(DuplicateDeviceError);
    for (const device of [
      { kind: 'rng', id: 'r1' },
      { kind: 'vhost-user', type: 'fs', id: 'vf', socketPath: join(h.dir, 'x.sock'), tag: 't' },
      { kind: 'block', id: 'mm', file: image(h, 'mm.img'), driver: 'virtio-mmio' },
    ] as const) {
      expect(await fails(h.sb, { kind: 'hotplug', device })).toBeInstanceOf(HotplugNotSupportedError);
    }
    expect(await fails(h.sb, { kind: 'unplug', id: 'nope' })).toBeInstanceOf(UnknownDeviceError);
    expect(await qmpView(h)).toMatchObject({ devices: ['d1'], blockNodes: ['drive-d1'] });
  });

  it('rolls back blockdev-add and the slot when QEMU refuses an id only it knows, or a second writer without share-rw', async () => {
    const h = await startSandbox();
    await h.sb.operate({ kind: 'hotplug', device: { kind: 'block', id: 'd1', file: image(h, 'd1.img') } });
    // `console0` is the planner's virtconsole: QEMU has it, the device record does not.
    const dup = await fails(
      h.sb,
      { kind: 'hotplug', device: { kind: 'block', id: 'console0', file: image(h, 'd3.img') } },
      'dup',
    );
    expect(dup).toBeInstanceOf(HotplugRefusedError);
    expect(dup).toBeInstanceOf(HotplugRolledBackError);
    expect(dup).toMatchObject({ step: 'device_add virtio-blk-pci', code: 'ERR_HOTPLUG_REFUSED' });
    expect((dup as HotplugRefusedError).desc).toMatch(/Duplicate/i);
    expect(Object.keys(dup as object)).not.toContain('rolledBack');
    expect(h.phases('dup')).toEqual(['requested', 'failed', 'rolled-back']);

    const shared = image(h, 'shared.img');
    await h.sb.operate({ kind: 'hotplug', device: { kind: 'block', id: 's1', file: shared } });
    const lock = await fails(h.sb, {
      kind: 'hotplug',
      device: { kind: 'block', id: 's2', file: shared, shareRW: false },
    });
    expect(lock).toBeInstanceOf(HotplugRefusedError);
    expect((lock as HotplugRefusedError).desc).toMatch(/lock/i);
    // The slots the refused disks held were released: the next disk takes the next free one.
    const s3 = (await h.sb.operate({
      kind: 'hotplug',
      device: { kind: 'block', id: 's3', file: shared },
    })) as HotplugResult;
    expect(s3.placement.pciPath).toBe('02/03');
    expect(await qmpView(h)).toMatchObject({
      devices: ['d1', 's1', 's3'],
      blockNodes: ['drive-d1', 'drive-s1', 'drive-s3'],
    });
  });

  it('fills every slot of the bridge, then refuses the next disk with a capacity error before any QMP', async () => {
    const h = await startSandbox();
    const file = image(h, 'many.img');
    for (let i = 1; i <= 30; i++) {
      const r = (await h.sb.operate({
        kind: 'hotplug',
        device: { kind: 'block', id: `m${i}`, file },
      })) as HotplugResult;
      expect(r.placement.pciPath).toBe(`02/${i.toString(16).padStart(2, '0')}`);
    }
    const full = await fails(h.sb, { kind: 'hotplug', device: { kind: 'block', id: 'm31', file } }, 'full');
    // The machine's guard refuses it before the operation runs.
    expect(full).toMatchObject({ code: 'ERR_OPERATION_NO_CAPACITY' });
    expect(h.phases('full')).toEqual(['requested', 'failed']);
    expect((await qmpView(h)).blockNodes).toHaveLength(30);
  });

  it('rolls back the nvdimm backend when the machine has no nvdimm support, and refuses virtio-blk-ccw on x86 (no CCW bridge)', async () => {
    const h = await startSandbox();
    const nv = await fails(h.sb, {
      kind: 'hotplug',
      device: { kind: 'block', id: 'nv1', file: image(h, 'p.img', 4), pmem: true },
    });
    expect(nv).toBeInstanceOf(HotplugRefusedError);
    expect(nv).toMatchObject({ step: 'device_add nvdimm' });
    const ccw = await fails(h.sb, {
      kind: 'hotplug',
      device: { kind: 'block', id: 'ccw1', file: image(h, 'c.img'), driver: 'virtio-blk-ccw' },
    });
    expect(ccw).toMatchObject({ code: 'ERR_OPERATION_NO_CAPACITY' });
    expect(await qmpView(h)).toMatchObject({ devices: [], blockNodes: [], objects: [] });
  });
});

describe('hot-plugging vhost-user-blk and VFIO into a sandbox', () => {
  it('adds a vhost-user-blk device served by qemu-storage-daemon on a bridge slot, and leaves no chardev or slot when the socket has no listener', async () => {
    const h = await startSandbox({ hypervisor: { sharedFS: 'virtio-fs' } });
    const file = image(h, 'vub.img');
    const sock = join(h.dir, 'vub.sock');
    // --daemonize: the parent exits once the export listens (the readiness signal).
    const pidFile = join(h.dir, 'qsd.pid');
    const qsd = spawn(
      QSD,
      [
        '--daemonize',
        '--pidfile',
        pidFile,
        '--blockdev',
        `driver=file,node-name=file0,filename=${file}`,
        '--export',
        `type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,addr.path=${sock},writable=on`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], shell: false },
    );
    const [code] = await once(qsd, 'exit');
    expect(code).toBe(0);
    daemons.push(Number((await readFile(pidFile, 'utf8')).trim()));
    const r = (await h.sb.operate({
      kind: 'hotplug',
      device: { kind: 'vhost-user', type: 'blk', id: 'vub1', socketPath: sock },
    })) as HotplugResult;
    expect(r.placement.pciPath).toBe('02/01');
    const none = await fails(h.sb, {
      kind: 'hotplug',
      device: { kind: 'vhost-user', type: 'blk', id: 'vub2', socketPath: join(h.dir, 'nobody.sock') },
    });
    expect(none).toBeInstanceOf(HotplugRefusedError);
    expect(none).toMatchObject({ step: 'chardev-add' });
    expect(await qmpView(h)).toMatchObject({ devices: ['vub1'], chardevs: ['char-vub1'] });
    const next = (await h.sb.operate({
      kind: 'hotplug',
      device: { kind: 'block', id: 'b1', file },
    })) as HotplugResult;
    expect(next.placement.pciPath).toBe('02/02');
  });

  it("turns QEMU's refusal of VFIO devices without hardware into VfioDeviceError (bridge slot, then root port released)", async () => {
    const h = await startSandbox({ hypervisor: { hotplugVFIOOnRootBus: true, pcieRootPort: 1 } });
    for (let i = 0; i < 2; i++) {
      // The same root port is free again for the second try.
      const err = await fails(h.sb, {
        kind: 'hotplug',
        device: { kind: 'vfio', id: `vf${i}`, bdf: '0000:99:00.0', pcie: true },
      });
      expect(err).toBeInstanceOf(VfioDeviceError);
      expect(err).toBeInstanceOf(HotplugRolledBackError);
      expect(err).toMatchObject({ code: 'ERR_HOTPLUG_VFIO', host: '0000:99:00.0' });
      expect((err as VfioDeviceError).desc).toMatch(/no such host device/);
    }
    const med = await fails(h.sb, {
      kind: 'hotplug',
      device: {
        kind: 'vfio',
        id: 'vm1',
        sysfsDev: '/sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001',
      },
    });
    expect(med).toBeInstanceOf(VfioDeviceError);
    expect(await qmpView(h)).toMatchObject({ devices: [] });
    const plain = await startSandbox();
    expect(
      await fails(plain.sb, { kind: 'hotplug', device: { kind: 'vfio', id: 'vb', bdf: '0000:99:00.0' } }),
    ).toBeInstanceOf(VfioDeviceError);
    const after = (await plain.sb.operate({
      kind: 'hotplug',
      device: { kind: 'block', id: 'b1', file: image(plain, 'b.img') },
    })) as HotplugResult;
    expect(after.placement.pciPath).toBe('02/01');
  });
});

describe('resizing vCPUs and memory of a sandbox', () => {
  it("hot-adds vCPUs with Kata's return values, clamps to max vCPUs, and refuses strict, impossible or TCG-unsafe requests", async () => {
    const h = await startSandbox();
    expect(await h.sb.operate({ kind: 'resize-vcpus', count: 3 })).toEqual({
      kind: 'resize-vcpus',
      currentVCPUs: 1,
      newVCPUs: 3,
      added: 2,
      removed: 0,
      clamped: false,
      confirmedBy: 'qemu',
    });
    expect(await h.sb.operate({ kind: 'resize-vcpus', count: 16 })).toMatchObject({
      currentVCPUs: 3,
      newVCPUs: 4,
      added: 1,
      clamped: true,
    });
    expect(await fails(h.sb, { kind: 'resize-vcpus', count: 5, strict: true })).toMatchObject({
      code: 'ERR_OPERATION_NO_CAPACITY',
    });
    expect(await fails(h.sb, { kind: 'resize-vcpus', count: 0 })).toBeInstanceOf(HotplugInputError);
    const down = await fails(h.sb, { kind: 'resize-vcpus', count: 2 });
    expect(down).toBeInstanceOf(HotplugNotSupportedError);
    expect((down as HotplugNotSupportedError).message).toMatch(/TCG/);
    expect((await qmpView(h)).cpus).toEqual(['cpu-0', 'cpu-1', 'cpu-2']);
  });

  it('adds pc-dimms on the next slot with probe addresses, aligns resizes, refuses beyond the memory slots, and reports hot-remove as not supported', async () => {
    const h = await startSandbox();
    expect(await h.sb.operate({ kind: 'hotplug-memory', mib: 128, probe: true })).toMatchObject({
      kind: 'hotplug-memory',
      id: 'dimmmem0',
      slot: 0,
      sizeMiB: 128,
      addr: 4294967296,
    });
    expect(await h.sb.operate({ kind: 'resize-memory', mib: 700, memoryBlockSizeMiB: 128 })).toEqual({
      kind: 'resize-memory',
      previousMiB: 640,
      currentMiB: 768,
      device: { id: 'dimmmem1', slot: 1, sizeMiB: 128 },
      via: 'pc-dimm',
      confirmedBy: 'qemu',
    });
    expect(await h.sb.operate({ kind: 'resize-memory', mib: 512 })).toMatchObject({
      currentMiB: 768,
      via: 'none',
      notSupported: true,
    });
    expect(await fails(h.sb, { kind: 'unplug', id: 'dimmmem0' })).toBeInstanceOf(HotplugNotSupportedError);
    await h.sb.operate({ kind: 'hotplug-memory', mib: 64 });
    await h.sb.operate({ kind: 'hotplug-memory', mib: 64 });
    expect(await fails(h.sb, { kind: 'hotplug-memory', mib: 64 })).toMatchObject({
      code: 'ERR_OPERATION_NO_CAPACITY',
    });
    const mem = await h.qmp.execute('query-memory-devices');
    expect(mem.map((m) => [m.data.id, m.data.slot, m.data.size])).toEqual([
      ['dimmmem0', 0, 128 << 20],
      ['dimmmem1', 1, 128 << 20],
      ['dimmmem2', 2, 64 << 20],
      ['dimmmem3', 3, 64 << 20],
    ]);
  });
});
