// Hot-plug operations against a real QEMU 7.2 without a guest (-S): shapes, capacity guards,
// QEMU's real refusals as typed errors, and rollback checked through QMP queries.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SandboxOperation } from '../../machines/operation.types.js';
import {
  DeviceState,
  DuplicateDeviceError,
  HotplugAbortedError,
  HotplugCapacityError,
  type HotplugContext,
  HotplugInputError,
  HotplugNotSupportedError,
  HotplugRefusedError,
  runOperation,
  setupVirtioMem,
  UnknownDeviceError,
  VfioDeviceError,
} from '../../src/hotplug/index.js';
import { createBridges } from '../../src/qemu/bridges.js';
import { alive, descendants } from '../helpers/census.js';
import { hostBinary } from '../helpers/env.js';
import {
  cleanupVms,
  contextFor,
  launchVm,
  placementOf,
  qmpView,
  recordedView,
  runState,
  testConfig,
  type Vm,
} from './hotplug-harness.js';

const QSD = hostBinary('qemu-storage-daemon');
const daemons: number[] = [];

afterEach(async () => {
  for (const pid of daemons.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await cleanupVms();
  expect(descendants()).toEqual([]);
});

async function disk(vm: Vm, name: string, bytes = 1024 * 1024): Promise<string> {
  const file = join(vm.dir, name);
  await writeFile(file, Buffer.alloc(bytes));
  return file;
}

/** The VM still answers and runs (prelaunch with -S), and QMP shows exactly what we recorded. */
async function expectConsistent(vm: Vm, ctx: HotplugContext): Promise<void> {
  expect(alive(vm.pid)).toBe(true);
  expect(['prelaunch', 'running', 'paused']).toContain(await runState(vm));
  expect(await qmpView(vm)).toEqual(recordedView(ctx.state));
  for (const d of ctx.state.devices) {
    if (!d.bridgeSlot || !d.bus || !d.addr) continue;
    expect(await placementOf(vm, d.id)).toEqual({ bus: d.bus, slot: Number.parseInt(d.addr, 16) });
  }
}

async function fails(ctx: HotplugContext, op: SandboxOperation): Promise<unknown> {
  return runOperation(ctx, op).then(
    () => {
      throw new Error('expected the operation to fail');
    },
    (e: unknown) => e,
  );
}

describe('hot-plugging disks into a real QEMU', () => {
  it('puts a virtio-blk disk on the first bridge slot with PCI path 02/01, reports applied then confirmed, and QMP agrees', async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm);
    const file = await disk(vm, 'd1.img');
    const r = await runOperation(ctx, { kind: 'hotplug-block', id: 'd1', file });
    expect(r).toEqual({
      kind: 'hotplug-block',
      id: 'd1',
      driver: 'virtio-blk',
      pciPath: '02/01',
      confirmedBy: 'qemu',
    });
    expect(ctx.phases.map((p) => p.phase)).toEqual(['applied', 'confirmed']);
    const pci = await vm.qmp.execute('query-pci');
    expect(pci[0]?.devices.find((d) => d.qdev_id === 'pci-bridge-0')?.slot).toBe(2);
    expect(await placementOf(vm, 'd1')).toEqual({ bus: 'pci-bridge-0', slot: 1 });
    expect(await vm.qmp.execute('qom-get', { path: 'd1', property: 'share-rw' })).toBe(true);
    expect(await vm.qmp.execute('qom-get', { path: 'd1', property: 'serial' })).toBe('d1');
    await expectConsistent(vm, ctx);
  });

  it('sets cache.direct and cache.no-flush on the block node when the config asks for them', async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm, {
      config: testConfig({
        blockDeviceCacheSet: true,
        blockDeviceCacheDirect: true,
        blockDeviceCacheNoflush: true,
      }),
    });
    await runOperation(ctx, { kind: 'hotplug-block', id: 'c1', file: await disk(vm, 'c1.img') });
    const nodes = await vm.qmp.execute('query-named-block-nodes', { flat: true });
    const node = nodes.find((n) => n['node-name'] === 'drive-c1');
    expect(node?.cache).toEqual({ writeback: true, direct: true, 'no-flush': true });
    const plain = contextFor(vm, { state: ctx.state });
    await runOperation(plain, { kind: 'hotplug-block', id: 'c2', file: await disk(vm, 'c2.img') });
    const node2 = (await vm.qmp.execute('query-named-block-nodes', { flat: true })).find(
      (n) => n['node-name'] === 'drive-c2',
    );
    expect(node2?.cache).toEqual({ writeback: true, direct: false, 'no-flush': false });
  });

  it('refuses a missing file with HotplugInputError before any QMP, and the VM keeps running with nothing added', async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm);
    const err = await fails(ctx, { kind: 'hotplug-block', id: 'd1', file: join(vm.dir, 'missing.img') });
    expect(err).toBeInstanceOf(HotplugInputError);
    expect((err as HotplugInputError).code).toBe('ERR_HOTPLUG_INVALID');
    expect(ctx.phases.map((p) => p.phase)).toEqual(['failed']);
    await expectConsistent(vm, ctx);
    expect((await qmpView(vm)).blockNodes).toEqual([]);
  });

  it('refuses a recorded duplicate id before QMP, and rolls back blockdev-add and the slot when QEMU refuses an id it already has', async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm);
    await runOperation(ctx, { kind: 'hotplug-block', id: 'd1', file: await disk(vm, 'd1.img') });
    expect(
      await fails(ctx, { kind: 'hotplug-block', id: 'd1', file: await disk(vm, 'd2.img') }),
    ).toBeInstanceOf(DuplicateDeviceError);
    // `pci-bridge-0` exists in QEMU (cold-plugged), not in our records: QEMU's refusal is typed.
    const err = await fails(ctx, {
      kind: 'hotplug-block',
      id: 'pci-bridge-0',
      file: await disk(vm, 'd3.img'),
    });
    expect(err).toBeInstanceOf(HotplugRefusedError);
    expect(err).toMatchObject({ rolledBack: true, step: 'device_add virtio-blk-pci' });
    expect((err as HotplugRefusedError).desc).toMatch(/Duplicate/i);
    expect(ctx.phases.slice(-2).map((p) => p.phase)).toEqual(['failed', 'rolled-back']);
    expect(Object.values(ctx.state.bridges[0]?.devices ?? {})).toEqual(['d1']);
    await expectConsistent(vm, ctx);
    expect((await qmpView(vm)).blockNodes).toEqual(['drive-d1']);
  });

  it("refuses a second writer without share-rw with QEMU's lock error, rolled back, while share-rw writers coexist", async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm);
    const file = await disk(vm, 'shared.img');
    await runOperation(ctx, { kind: 'hotplug-block', id: 's1', file });
    const err = await fails(ctx, { kind: 'hotplug-block', id: 's2', file, shareRw: false });
    expect(err).toBeInstanceOf(HotplugRefusedError);
    expect((err as HotplugRefusedError).desc).toMatch(/lock/i);
    expect((err as HotplugRefusedError).rolledBack).toBe(true);
    await runOperation(ctx, { kind: 'hotplug-block', id: 's3', file });
    await expectConsistent(vm, ctx);
    expect(ctx.state.devices.map((d) => [d.id, d.pciPath])).toEqual([
      ['s1', '02/01'],
      ['s3', '02/02'],
    ]);
  });

  it('fills all 30 slots of the bridge, then refuses the 31st disk with a capacity error before any QMP', async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm);
    const file = await disk(vm, 'many.img');
    for (let i = 1; i <= 30; i++) {
      const r = await runOperation(ctx, { kind: 'hotplug-block', id: `m${i}`, file });
      expect(r).toMatchObject({ pciPath: `02/${i.toString(16).padStart(2, '0')}` });
    }
    const err = await fails(ctx, { kind: 'hotplug-block', id: 'm31', file });
    expect(err).toBeInstanceOf(HotplugCapacityError);
    expect(err).toMatchObject({ resource: 'bridge-slots', code: 'ERR_HOTPLUG_NO_CAPACITY' });
    await expectConsistent(vm, ctx);
    expect((await qmpView(vm)).blockNodes).toHaveLength(30);
  });

  it('adds scsi-hd disks with SCSI id and LUN from the drive index, skipping indexes cold-plugged disks hold', async () => {
    const vm = await launchVm({ scsi: true });
    const ctx = contextFor(vm, {
      config: testConfig({ blockDeviceDriver: 'virtio-scsi' }),
      state: DeviceState.create({ bridges: vm.bridges, reservedBlockIndexes: [0] }),
    });
    const file = await disk(vm, 'scsi.img');
    expect(await runOperation(ctx, { kind: 'hotplug-block', id: 'sd1', file })).toMatchObject({
      driver: 'virtio-scsi',
      scsi: { scsiId: 0, lun: 1 },
    });
    expect(await runOperation(ctx, { kind: 'hotplug-block', id: 'sd2', file })).toMatchObject({
      scsi: { scsiId: 0, lun: 2 },
    });
    expect(await vm.qmp.execute('qom-get', { path: 'sd2', property: 'lun' })).toBe(2);
    expect(await vm.qmp.execute('qom-get', { path: 'sd2', property: 'scsi-id' })).toBe(0);
    // SCSI unplug needs no guest: device_del → DEVICE_DELETED → blockdev-del.
    expect(await runOperation(ctx, { kind: 'unplug', id: 'sd1' })).toEqual({
      kind: 'unplug',
      id: 'sd1',
      removed: true,
      pending: false,
    });
    await expectConsistent(vm, ctx);
    expect(await runOperation(ctx, { kind: 'hotplug-block', id: 'sd3', file })).toMatchObject({
      scsi: { scsiId: 0, lun: 1 },
    });
    expect(await fails(ctx, { kind: 'unplug', id: 'sd1' })).toBeInstanceOf(UnknownDeviceError);
  });

  it('plugs an nvdimm sized from its file, refuses to unplug it, and rolls back the backend when the machine has no nvdimm support', async () => {
    const vm = await launchVm({ machineExtra: 'nvdimm=on' });
    const ctx = contextFor(vm);
    const file = await disk(vm, 'pmem.img', 4 * 1024 * 1024);
    const r = await runOperation(ctx, { kind: 'hotplug-block', id: 'nv1', file, driver: 'nvdimm' });
    expect(r).toMatchObject({ driver: 'nvdimm', sizeBytes: 4 * 1024 * 1024 });
    const mem = await vm.qmp.execute('query-memory-devices');
    expect(mem).toEqual([
      expect.objectContaining({
        type: 'nvdimm',
        data: expect.objectContaining({ id: 'nv1', size: 4194304 }),
      }),
    ]);
    expect(await fails(ctx, { kind: 'unplug', id: 'nv1' })).toBeInstanceOf(HotplugNotSupportedError);
    await expectConsistent(vm, ctx);

    const plain = await launchVm();
    const ctx2 = contextFor(plain);
    const err = await fails(ctx2, {
      kind: 'hotplug-block',
      id: 'nv2',
      file: await disk(plain, 'p2.img'),
      pmem: true,
    });
    expect(err).toBeInstanceOf(HotplugRefusedError);
    expect(err).toMatchObject({ rolledBack: true, step: 'device_add nvdimm' });
    await expectConsistent(plain, ctx2);
    expect((await qmpView(plain)).objects).toEqual([]);
  });

  it('rolls back the CCW slot and the block node when QEMU (x86) refuses virtio-blk-ccw', async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm, {
      state: DeviceState.create({ bridges: createBridges(1, 'ccw', undefined) }),
    });
    const err = await fails(ctx, {
      kind: 'hotplug-block',
      id: 'ccw1',
      file: await disk(vm, 'ccw.img'),
      driver: 'virtio-blk-ccw',
    });
    expect(err).toBeInstanceOf(HotplugRefusedError);
    expect(err).toMatchObject({ rolledBack: true, step: 'device_add virtio-blk-ccw' });
    expect(ctx.state.bridges[0]?.devices).toEqual({});
    await expectConsistent(vm, ctx);
  });

  it('undoes blockdev-add and the slot when STOP pre-empts the operation between its steps', async () => {
    const vm = await launchVm();
    const ac = new AbortController();
    const base = contextFor(vm, { signal: ac.signal });
    // Real QEMU; the hook only aborts once blockdev-add has been answered.
    const qmp: HotplugContext['qmp'] = {
      execute: (async (cmd: string, args: unknown, opts: unknown) => {
        const r = await (vm.qmp.execute as (c: string, a: unknown, o: unknown) => Promise<unknown>)(
          cmd,
          args,
          opts,
        );
        if (cmd === 'blockdev-add') ac.abort(new Error('STOP'));
        return r;
      }) as HotplugContext['qmp']['execute'],
      executeAndWaitFor: vm.qmp.executeAndWaitFor.bind(vm.qmp),
    };
    const ctx = { ...base, qmp };
    const err = await fails(ctx, { kind: 'hotplug-block', id: 'a1', file: await disk(vm, 'a1.img') });
    expect(err).toBeInstanceOf(HotplugAbortedError);
    expect(err).toMatchObject({ rolledBack: true, code: 'ERR_HOTPLUG_ABORTED' });
    expect(base.phases.map((p) => p.phase)).toEqual(['failed', 'rolled-back']);
    await expectConsistent(vm, base);
    expect((await qmpView(vm)).blockNodes).toEqual([]);
  });
});

describe('hot-plugging vhost-user-blk, VFIO, vCPUs and memory into a real QEMU', () => {
  it('adds a vhost-user-blk device served by qemu-storage-daemon on a bridge slot, and undoes the chardev when device_add fails', async () => {
    const vm = await launchVm({
      memory: '512M,slots=4,maxmem=2G',
      extra: [
        '-object',
        'memory-backend-memfd,id=ram0,size=512M,share=on',
        '-machine',
        'memory-backend=ram0',
      ],
      coldIds: ['ram0'],
    });
    const file = await disk(vm, 'vub.img');
    const sock = join(vm.dir, 'vub.sock');
    // --daemonize: the parent exits once the export listens (the readiness signal); the daemon's pid is in the pid file.
    const pidFile = join(vm.dir, 'qsd.pid');
    const qsd = spawn(
      QSD as string,
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
    const ctx = contextFor(vm);
    const r = await runOperation(ctx, { kind: 'hotplug-vhost-user-blk', id: 'vub1', socketPath: sock });
    expect(r).toEqual({
      kind: 'hotplug-vhost-user-blk',
      id: 'vub1',
      pciPath: '02/01',
      confirmedBy: 'qemu',
    });
    await expectConsistent(vm, ctx);
    const err = await fails(ctx, { kind: 'hotplug-vhost-user-blk', id: 'pci-bridge-0', socketPath: sock });
    expect(err).toBeInstanceOf(HotplugRefusedError);
    await expectConsistent(vm, ctx);
    expect((await qmpView(vm)).chardevs).toEqual(['char-vub1']);
  });

  it('refuses a vhost-user-blk socket nobody listens on with a typed error and leaves no chardev or slot', async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm);
    const err = await fails(ctx, {
      kind: 'hotplug-vhost-user-blk',
      id: 'vub2',
      socketPath: join(vm.dir, 'nobody.sock'),
    });
    expect(err).toBeInstanceOf(HotplugRefusedError);
    expect(err).toMatchObject({ step: 'chardev-add' });
    expect(ctx.state.bridges[0]?.devices).toEqual({});
    await expectConsistent(vm, ctx);
  });

  it("turns QEMU's refusal of a VFIO device without hardware into VfioDeviceError and releases the bridge slot", async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm);
    const err = await fails(ctx, { kind: 'hotplug-vfio', id: 'vf0', host: '0000:99:00.0' });
    expect(err).toBeInstanceOf(VfioDeviceError);
    expect(err).toMatchObject({ rolledBack: true, code: 'ERR_HOTPLUG_VFIO', host: '0000:99:00.0' });
    expect((err as VfioDeviceError).desc).toMatch(/no such host device/);
    expect(ctx.state.bridges[0]?.devices).toEqual({});
    const med = await fails(ctx, {
      kind: 'hotplug-vfio',
      id: 'vf1',
      host: '/sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001',
    });
    expect(med).toBeInstanceOf(VfioDeviceError);
    expect((med as VfioDeviceError).desc).toMatch(/sysfs|mdev|no such/i);
    await expectConsistent(vm, ctx);
  });

  it('tries a PCIe VFIO device on a free root port when hotplug_vfio_on_root_bus is set on q35, and frees the port after the refusal', async () => {
    const vm = await launchVm({ pcieRootPorts: 1 });
    const ctx = contextFor(vm, {
      config: testConfig({ hotplugVFIOOnRootBus: true, pcieRootPort: 1 }),
      state: DeviceState.create({ bridges: vm.bridges, pcieRootPorts: 1 }),
    });
    const err = await fails(ctx, { kind: 'hotplug-vfio', id: 'vf0', host: '0000:99:00.0', pcie: true });
    expect(err).toBeInstanceOf(VfioDeviceError);
    expect(ctx.state.rootPorts).toEqual({ rp0: null });
    expect(ctx.state.bridges[0]?.devices).toEqual({});
    await expectConsistent(vm, ctx);
  });

  it("hot-adds vCPUs from query-hotpluggable-cpus with integer ids, clamps to max vCPUs with the seeds' return values, and refuses strict or impossible requests", async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm);
    expect(await runOperation(ctx, { kind: 'resize-vcpus', count: 3 })).toEqual({
      kind: 'resize-vcpus',
      currentVCPUs: 1,
      newVCPUs: 3,
      added: 2,
      removed: 0,
      clamped: false,
      confirmedBy: 'qemu',
    });
    expect(ctx.state.vcpus.map((c) => c.props)).toEqual([
      { 'socket-id': 1, 'core-id': 0, 'thread-id': 0 },
      { 'socket-id': 2, 'core-id': 0, 'thread-id': 0 },
    ]);
    expect(await runOperation(ctx, { kind: 'resize-vcpus', count: 16 })).toMatchObject({
      currentVCPUs: 3,
      newVCPUs: 4,
      added: 1,
      clamped: true,
    });
    expect(await runOperation(ctx, { kind: 'resize-vcpus', count: 9 })).toMatchObject({
      added: 0,
      newVCPUs: 4,
      clamped: true,
    });
    const strict = await fails(ctx, { kind: 'resize-vcpus', count: 5, strict: true });
    expect(strict).toMatchObject({ name: 'HotplugCapacityError', resource: 'maxcpus' });
    expect(await fails(ctx, { kind: 'resize-vcpus', count: 0 })).toBeInstanceOf(HotplugInputError);
    // QEMU 7.2 TCG segfaults on a later hot-plug after a vCPU unplug: refused under TCG, typed.
    const down = await fails(ctx, { kind: 'resize-vcpus', count: 2 });
    expect(down).toBeInstanceOf(HotplugNotSupportedError);
    expect((down as HotplugNotSupportedError).message).toMatch(/TCG/);
    await expectConsistent(vm, ctx);
    expect((await qmpView(vm)).cpus).toEqual(['cpu-0', 'cpu-1', 'cpu-2']);
  });

  it('adds pc-dimms on the next slot with probe addresses, aligns resizes, refuses beyond maxmem and memory slots, and reports hot-remove as not supported', async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm);
    const a = await runOperation(ctx, { kind: 'hotplug-memory', mib: 128, probe: true });
    expect(a).toMatchObject({
      kind: 'hotplug-memory',
      id: 'dimmmem0',
      slot: 0,
      sizeMiB: 128,
      addr: 4294967296,
    });
    const b = await runOperation(ctx, { kind: 'resize-memory', mib: 700, memoryBlockSizeMiB: 128 });
    expect(b).toEqual({
      kind: 'resize-memory',
      previousMiB: 640,
      currentMiB: 768,
      device: { id: 'dimmmem1', slot: 1, sizeMiB: 128 },
      via: 'pc-dimm',
      confirmedBy: 'qemu',
    });
    const big = await fails(ctx, { kind: 'resize-memory', mib: 4096 });
    expect(big).toMatchObject({ name: 'HotplugCapacityError', resource: 'maxmem' });
    const host = await fails(contextFor(vm, { state: ctx.state, limits: { hostMemMiB: 800 } }), {
      kind: 'hotplug-memory',
      mib: 64,
    });
    expect(host).toMatchObject({ name: 'HotplugCapacityError', resource: 'host-memory' });
    expect(await runOperation(ctx, { kind: 'resize-memory', mib: 512 })).toMatchObject({
      currentMiB: 768,
      via: 'none',
      notSupported: true,
    });
    expect(await fails(ctx, { kind: 'unplug', id: 'dimmmem0' })).toBeInstanceOf(HotplugNotSupportedError);
    await runOperation(ctx, { kind: 'hotplug-memory', mib: 64 });
    await runOperation(ctx, { kind: 'hotplug-memory', mib: 64 });
    const slots = await fails(ctx, { kind: 'hotplug-memory', mib: 64 });
    expect(slots).toMatchObject({ name: 'HotplugCapacityError', resource: 'memory-slots' });
    await expectConsistent(vm, ctx);
    const mem = await vm.qmp.execute('query-memory-devices');
    expect(mem.map((m) => [m.data.id, m.data.slot, m.data.size])).toEqual([
      ['dimmmem0', 0, 128 << 20],
      ['dimmmem1', 1, 128 << 20],
      ['dimmmem2', 2, 64 << 20],
      ['dimmmem3', 3, 64 << 20],
    ]);
  });

  it('sets up virtio-mem with requested-size 0 and resizes it with qom-set requested-size', async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm, { config: testConfig({ virtioMem: true }) });
    expect(await setupVirtioMem(ctx)).toMatchObject({ regionMiB: 1536, placement: { pciPath: '02/01' } });
    expect(await runOperation(ctx, { kind: 'resize-memory', mib: 1024 })).toEqual({
      kind: 'resize-memory',
      previousMiB: 512,
      currentMiB: 1024,
      via: 'virtio-mem',
      confirmedBy: 'qemu',
    });
    expect(await vm.qmp.execute('qom-get', { path: 'virtiomem0', property: 'requested-size' })).toBe(
      512 * 1024 * 1024,
    );
    const err = await fails(ctx, { kind: 'resize-memory', mib: 4096 });
    expect(err).toMatchObject({ name: 'HotplugCapacityError', resource: 'virtio-mem' });
    await expectConsistent(vm, ctx);
  });
});
