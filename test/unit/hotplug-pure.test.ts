// Pure parts of the hotplug layer: memory alignment, capacity guards over the device record, the
// spec validation, the QMP commands of each family (virtio-blk, scsi-hd, CCW, nvdimm, virtio-net,
// vfio, vCPUs), the initial record from a config, and the record's persistence.
import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { SandboxOperation } from '../../machines/operation.types.js';
import { DeviceRecord, DeviceRecordVersionError } from '../../src/devices/record.js';
import type { DeviceRecordData } from '../../src/devices/record-types.js';
import { coldRecord } from '../../src/hotplug/cold-record.js';
import { compareCpuSlots, isCpuDeleted, isCpuInserted } from '../../src/hotplug/cpu.js';
import {
  blockDeviceSizeBytes,
  calcHotplugMemMiBSize,
  capacityFor,
  cpuDeviceArgs,
  HotplugAbortedError,
  HotplugCapacityError,
  HotplugError,
  HotplugInputError,
  HotplugRefusedError,
  HotplugRollbackIncompleteError,
  HotplugRolledBackError,
  HotplugTimeoutError,
  limitsOf,
  memoryBackendFor,
  parseDeviceSpec,
  vfioPlacementKind,
  virtioMemArgv,
  virtioMemRegionMiB,
} from '../../src/hotplug/index.js';
import {
  blockdevArgs,
  blockPlan,
  netPlan,
  nvdimmPlan,
  vfioPlan,
  vhostUserBlkPlan,
} from '../../src/hotplug/objects.js';
import { StepRefused, toHotplugError } from '../../src/hotplug/steps.js';
import { createBridges } from '../../src/qemu/bridges.js';
import { QmpCommandError, QmpTimeoutError } from '../../src/qmp/errors.js';
import { testConfig } from '../helpers/hotplug-config.js';

const limits = limitsOf({ config: testConfig(), limits: { hostMemMiB: 4096, maxMemMiB: 2048 } });
const disk = (id: string, extra: Record<string, unknown> = {}): SandboxOperation => ({
  kind: 'hotplug',
  device: { kind: 'block', id, file: '/f', ...extra },
});

describe('calcHotplugMemMiBSize', () => {
  it('rounds up to the memory block size and passes sizes through when the block size is 0', () => {
    expect(calcHotplugMemMiBSize(100, 128)).toBe(128);
    expect(calcHotplugMemMiBSize(128, 128)).toBe(128);
    expect(calcHotplugMemMiBSize(129, 128)).toBe(256);
    expect(calcHotplugMemMiBSize(100, 0)).toBe(100);
    expect(() => calcHotplugMemMiBSize(-1, 128)).toThrow(HotplugInputError);
  });
});

describe('capacity guards', () => {
  it('refuses a disk when the bridge is full and a NIC when there is no bridge at all', () => {
    const state = DeviceRecord.create({ bridges: createBridges(1, 'pci', 'pcie.0') });
    expect(capacityFor(state, testConfig(), limits, disk('d'))).toEqual({ ok: true });
    for (let i = 0; i < 30; i++) state.takeSlot(`x${i}`, 'pci');
    expect(capacityFor(state, testConfig(), limits, disk('d'))).toMatchObject({
      ok: false,
      resource: 'bridge-slots',
    });
    const none = DeviceRecord.create();
    expect(
      capacityFor(none, testConfig(), limits, {
        kind: 'hotplug',
        device: { kind: 'net', id: 'n', ifname: 't' },
      }),
    ).toMatchObject({ ok: false, resource: 'bridge-slots' });
    // scsi-hd needs no bridge slot; an invalid spec passes the guard (the operation lists its problems).
    expect(capacityFor(state, testConfig(), limits, disk('d', { driver: 'virtio-scsi' }))).toEqual({
      ok: true,
    });
    expect(capacityFor(state, testConfig(), limits, disk('1-bad'))).toEqual({ ok: true });
  });

  it('checks memory slots, maxmem and host memory for DIMMs and aligns resize-memory first', () => {
    const state = DeviceRecord.create();
    expect(capacityFor(state, testConfig(), limits, { kind: 'hotplug-memory', mib: 1536 })).toEqual({
      ok: true,
    });
    expect(capacityFor(state, testConfig(), limits, { kind: 'hotplug-memory', mib: 1537 })).toMatchObject({
      resource: 'maxmem',
    });
    // 512 + align(1500 - 512 = 988 → 1024) = 1536 ≤ 2048 fits; with 1024 MiB blocks 1700 → 512 + 2048 does not.
    expect(
      capacityFor(state, testConfig(), limits, { kind: 'resize-memory', mib: 1500, memoryBlockSizeMiB: 128 }),
    ).toEqual({ ok: true });
    expect(
      capacityFor(state, testConfig(), limits, {
        kind: 'resize-memory',
        mib: 1700,
        memoryBlockSizeMiB: 1024,
      }),
    ).toMatchObject({ resource: 'maxmem' });
    const small = limitsOf({ config: testConfig(), limits: { hostMemMiB: 600, maxMemMiB: 2048 } });
    expect(capacityFor(state, testConfig(), small, { kind: 'hotplug-memory', mib: 128 })).toMatchObject({
      resource: 'host-memory',
    });
    for (let i = 0; i < 4; i++)
      state.addDimm({ id: `dimmmem${i}`, backendId: `mem${i}`, slot: i, sizeMiB: 1 });
    expect(capacityFor(state, testConfig(), limits, { kind: 'hotplug-memory', mib: 1 })).toMatchObject({
      resource: 'memory-slots',
    });
    // Shrinking is not refused: it is "not supported" (a warning) in the operation.
    expect(capacityFor(state, testConfig(), limits, { kind: 'resize-memory', mib: 256 })).toEqual({
      ok: true,
    });
  });

  it('allows clamped vCPU growth, refuses it when strict, and refuses removing boot vCPUs', () => {
    const state = DeviceRecord.create();
    expect(capacityFor(state, testConfig(), limits, { kind: 'resize-vcpus', count: 64 })).toEqual({
      ok: true,
    });
    expect(
      capacityFor(state, testConfig(), limits, { kind: 'resize-vcpus', count: 5, strict: true }),
    ).toMatchObject({
      resource: 'maxcpus',
    });
    const two = limitsOf({ config: testConfig({ numVCPUs: 2 }), limits: {} });
    expect(
      capacityFor(state, testConfig({ numVCPUs: 2 }), two, { kind: 'resize-vcpus', count: 1 }),
    ).toMatchObject({
      resource: 'hotplugged-cpus',
    });
  });
});

describe('the QMP commands of each family', () => {
  const spec = { kind: 'block' as const, id: 'd1', file: '/var/disk.img' };

  it('builds blockdev-add with a raw format node on a file node, threads AIO and the configured cache options', () => {
    expect(blockdevArgs(testConfig(), spec, { isBlockDevice: false })).toEqual({
      driver: 'raw',
      'node-name': 'drive-d1',
      'read-only': false,
      file: { driver: 'file', filename: '/var/disk.img', aio: 'threads' },
    });
    const cached = blockdevArgs(
      testConfig({ blockDeviceCacheSet: true, blockDeviceCacheDirect: true, blockDeviceCacheNoflush: false }),
      { ...spec, format: 'qcow2', readOnly: true },
      { isBlockDevice: true },
    );
    expect(cached).toMatchObject({
      driver: 'qcow2',
      'read-only': true,
      cache: { direct: true, 'no-flush': false },
      file: { driver: 'host_device' },
    });
    // The spec's own cache object wins over the config's.
    expect(
      blockdevArgs(testConfig(), { ...spec, cache: { noFlush: true } }, { isBlockDevice: false }).cache,
    ).toEqual({
      direct: false,
      'no-flush': true,
    });
  });

  it('builds virtio-blk-pci on a bridge slot, scsi-hd with id/LUN, and virtio-blk-ccw with a devno (share-rw on by default), each after its blockdev-add', () => {
    const blk = blockPlan(
      testConfig(),
      spec,
      'virtio-blk',
      { bus: 'pci-bridge-0', addr: '01' },
      { isBlockDevice: false },
    );
    expect(blk.commands.map((c) => [c.step.execute, c.undo?.execute])).toEqual([
      ['blockdev-add', 'blockdev-del'],
    ]);
    expect(blk.backends).toEqual({ node: 'drive-d1' });
    expect(blk.device).toEqual({
      driver: 'virtio-blk-pci',
      id: 'd1',
      drive: 'drive-d1',
      'share-rw': true,
      serial: 'd1',
      bus: 'pci-bridge-0',
      addr: '01',
    });
    expect(
      blockPlan(
        testConfig(),
        { ...spec, shareRW: false },
        'virtio-scsi',
        { bus: 'scsi0.0', scsi: { index: 259, scsiId: 1, lun: 3 } },
        { isBlockDevice: false },
      ).device,
    ).toEqual({ driver: 'scsi-hd', id: 'd1', drive: 'drive-d1', bus: 'scsi0.0', 'scsi-id': 1, lun: 3 });
    expect(
      blockPlan(testConfig(), spec, 'virtio-blk-ccw', { devno: 'fe.0.0001' }, { isBlockDevice: false })
        .device,
    ).toEqual({
      driver: 'virtio-blk-ccw',
      id: 'd1',
      drive: 'drive-d1',
      'share-rw': true,
      devno: 'fe.0.0001',
    });
    const nv = nvdimmPlan({ ...spec, pmem: true }, { isBlockDevice: false, sizeBytes: 4096 });
    expect(nv.commands[0]?.step).toEqual({
      execute: 'object-add',
      arguments: {
        'qom-type': 'memory-backend-file',
        id: 'nvdimmbackmem-d1',
        'mem-path': '/var/disk.img',
        size: 4096,
        share: true,
        pmem: true,
      },
    });
    expect(nv.device).toEqual({ driver: 'nvdimm', id: 'd1', memdev: 'nvdimmbackmem-d1' });
  });

  it('builds getfd per tap and vhost fd, netdev_add by fd names, then virtio-net-pci with mac, mq and 2N+2 vectors (virtio-net-ccw with a devno)', () => {
    const net = {
      kind: 'net' as const,
      id: 'n1',
      fds: [10, 11],
      vhostFds: [12, 13],
      mac: '52:54:00:00:00:01',
    };
    const p = netPlan(net, false, { bus: 'pci-bridge-0', addr: '02' });
    expect(p.commands.map((c) => [c.step.execute, c.step.fds ?? null, c.undo?.execute])).toEqual([
      ['getfd', [10], 'closefd'],
      ['getfd', [11], 'closefd'],
      ['getfd', [12], 'closefd'],
      ['getfd', [13], 'closefd'],
      ['netdev_add', null, 'netdev_del'],
    ]);
    expect(p.commands[4]?.step.arguments).toEqual({
      type: 'tap',
      id: 'net-n1',
      fds: 'fd-n1-0:fd-n1-1',
      vhost: true,
      vhostfds: 'vhostfd-n1-0:vhostfd-n1-1',
    });
    expect(p.device).toEqual({
      driver: 'virtio-net-pci',
      id: 'n1',
      netdev: 'net-n1',
      mac: '52:54:00:00:00:01',
      bus: 'pci-bridge-0',
      addr: '02',
      romfile: '',
      mq: true,
      vectors: 6,
    });
    expect(p.backends).toEqual({
      netdev: 'net-n1',
      fdNames: ['fd-n1-0', 'fd-n1-1', 'vhostfd-n1-0', 'vhostfd-n1-1'],
    });
    expect(netPlan(net, true, { devno: 'fe.0.0002' }).device).toEqual({
      driver: 'virtio-net-ccw',
      id: 'n1',
      netdev: 'net-n1',
      mac: '52:54:00:00:00:01',
      devno: 'fe.0.0002',
      mq: true,
    });
    expect(netPlan({ kind: 'net', id: 'n2', ifname: 'tap0' }, false, {}).commands[0]?.step.arguments).toEqual(
      {
        type: 'tap',
        id: 'net-n2',
        ifname: 'tap0',
        script: 'no',
        downscript: 'no',
      },
    );
  });

  it('puts VFIO on a bridge by default, on a root port for PCIe devices on q35 with root ports, else on the root bus', () => {
    expect(vfioPlacementKind(testConfig(), { pcie: true })).toBe('bridge');
    expect(
      vfioPlacementKind(testConfig({ hotplugVFIOOnRootBus: true, pcieRootPort: 2 }), { pcie: true }),
    ).toBe('root-port');
    expect(
      vfioPlacementKind(testConfig({ hotplugVFIOOnRootBus: true, pcieRootPort: 0 }), { pcie: true }),
    ).toBe('root-bus');
    expect(
      vfioPlacementKind(
        testConfig({ hotplugVFIOOnRootBus: true, pcieRootPort: 2, hypervisorMachineType: 'pc' }),
        {
          pcie: true,
        },
      ),
    ).toBe('root-bus');
    expect(vfioPlan({ kind: 'vfio', id: 'v', sysfsDev: '/sys/bus/mdev/devices/u' }, {}).device).toEqual({
      driver: 'vfio-pci',
      id: 'v',
      sysfsdev: '/sys/bus/mdev/devices/u',
      romfile: '',
    });
    expect(vfioPlan({ kind: 'vfio', id: 'v', bdf: '0000:01:00.0' }, { bus: 'rp0' }).device).toMatchObject({
      host: '0000:01:00.0',
      bus: 'rp0',
    });
    const vu = vhostUserBlkPlan(
      { kind: 'vhost-user', type: 'blk', id: 'vu', socketPath: '/run/vu.sock' },
      {},
    );
    expect(vu.commands.map((c) => [c.step.execute, c.undo?.execute])).toEqual([
      ['chardev-add', 'chardev-remove'],
    ]);
    expect(vu.device).toEqual({ driver: 'vhost-user-blk-pci', id: 'vu', chardev: 'char-vu' });
  });

  it('gives vCPUs integer socket/die/core/thread ids, and only core-id on pseries and s390x', () => {
    const slot = {
      type: 'host-x86_64-cpu',
      'vcpus-count': 1,
      props: { 'socket-id': 2, 'die-id': 0, 'core-id': 1, 'thread-id': 0 },
    };
    expect(cpuDeviceArgs('q35', slot, 'cpu-0')).toEqual({
      driver: 'host-x86_64-cpu',
      id: 'cpu-0',
      'core-id': 1,
      'socket-id': 2,
      'die-id': 0,
      'thread-id': 0,
    });
    expect(cpuDeviceArgs('pseries', slot, 'cpu-0')).toEqual({
      driver: 'host-x86_64-cpu',
      id: 'cpu-0',
      'core-id': 1,
    });
    expect(cpuDeviceArgs('s390-ccw-virtio', slot, 'cpu-0')).toEqual({
      driver: 'host-x86_64-cpu',
      id: 'cpu-0',
      'core-id': 1,
    });
  });

  it('orders free vCPU slots lowest socket first, as QEMU lists them highest first', () => {
    const slot = (socket: number, core = 0) => ({
      type: 't',
      'vcpus-count': 1,
      props: { 'socket-id': socket, 'core-id': core },
    });
    const listed = [slot(3), slot(2, 1), slot(2), slot(1)];
    expect([...listed].sort(compareCpuSlots).map((s) => [s.props['socket-id'], s.props['core-id']])).toEqual([
      [1, 0],
      [2, 0],
      [2, 1],
      [3, 0],
    ]);
  });

  it('recognizes a vCPU removal by its own DEVICE_DELETED or one of its children, and an insertion by a successful _OST', () => {
    expect(isCpuDeleted({ device: 'cpu-1', path: '/machine/peripheral/cpu-1' }, 'cpu-1')).toBe(true);
    expect(isCpuDeleted({ path: '/machine/peripheral/cpu-1/lapic' }, 'cpu-1')).toBe(true);
    expect(isCpuDeleted({ path: '/machine/peripheral/cpu-10/lapic' }, 'cpu-1')).toBe(false);
    expect(isCpuInserted({ info: { device: 'cpu-0', source: 1, status: 0 } }, 'cpu-0')).toBe(true);
    expect(isCpuInserted({ info: { device: 'cpu-0', source: 1, status: 132 } }, 'cpu-0')).toBe(false);
  });

  it("chooses the memory backend as Kata's getMemArgs: ram, shared file for virtio-fs or a file root dir, hugepages", () => {
    expect(memoryBackendFor(testConfig())).toEqual({ qomType: 'memory-backend-ram', share: false });
    expect(memoryBackendFor(testConfig({ sharedFS: 'virtio-fs' }))).toEqual({
      qomType: 'memory-backend-file',
      memPath: '/dev/shm',
      share: true,
    });
    expect(memoryBackendFor(testConfig({ fileBackedMemRootDir: '/var/mem' }))).toMatchObject({
      memPath: '/var/mem',
    });
    expect(memoryBackendFor(testConfig({ hugePages: true }))).toMatchObject({
      memPath: '/dev/hugepages',
      share: true,
    });
    expect(() => memoryBackendFor(testConfig({ enableVhostUserStore: true }))).toThrow(HotplugInputError);
  });

  it('sizes the virtio-mem region from host memory minus boot memory within maxmem and gives the cold-plug argv', () => {
    expect(virtioMemRegionMiB(8192, 512, 2048)).toBe(1536);
    expect(virtioMemRegionMiB(1023, 512, 4096)).toBe(510);
    expect(virtioMemArgv(testConfig(), { regionMiB: 1536, bus: 'pci-bridge-0', addr: '1e' })).toEqual([
      '-object',
      'memory-backend-ram,id=virtiomem,size=1536M',
      '-device',
      'virtio-mem-pci,id=virtiomem0,memdev=virtiomem,requested-size=0,bus=pci-bridge-0,addr=1e',
    ]);
  });
});

describe('the device record', () => {
  it('round-trips through JSON with its slots, devices, vCPUs, DIMMs and root ports, and refuses another version with a typed error', () => {
    const record = DeviceRecord.create({ bridges: createBridges(1, 'pci', 'pcie.0'), pcieRootPorts: 1 });
    const slot = record.takeSlot('d1', 'pci');
    record.addDevice({
      id: 'd1',
      origin: 'hot',
      spec: { kind: 'block', id: 'd1', file: '/f' },
      placement: { bus: slot.bridge.id, addr: slot.addr, pciPath: slot.pciPath as string, bridgeSlot: true },
      backends: { node: 'drive-d1' },
    });
    record.addVcpu({ id: record.nextVcpuId(), props: { 'socket-id': 1 } });
    record.addDimm({ id: 'dimmmem0', backendId: 'mem0', slot: 0, sizeMiB: 128 });
    record.takeRootPort('v1');
    const json = JSON.parse(JSON.stringify(record.toJSON())) as DeviceRecordData;
    const back = DeviceRecord.fromJSON(json);
    expect(back.toJSON()).toEqual(record.toJSON());
    expect(back.device('d1')?.placement.pciPath).toBe('02/01');
    expect(back.hasId('drive-d1')).toBe(true);
    expect(back.nextVcpuId()).toBe('cpu-1');
    expect(back.rootPorts).toEqual({ rp0: 'v1' });
    expect(back.hotpluggedMemoryMiB).toBe(128);
    back.releaseSlot('d1');
    expect(back.freeSlots('pci')).toBe(30);
    expect(() => DeviceRecord.fromJSON({ ...json, version: 2 } as unknown as DeviceRecordData)).toThrow(
      DeviceRecordVersionError,
    );
  });

  it('numbers the next SCSI drive after every cold- and hot-plugged SCSI disk, filling gaps first', () => {
    const data = coldRecord({
      devices: [
        { kind: 'block', id: 'd0', file: '/a', driver: 'virtio-scsi' },
        { kind: 'block', id: 'b0', file: '/b', driver: 'virtio-blk' },
        { kind: 'block', id: 'd1', file: '/c' },
      ],
      blockDeviceDriver: 'virtio-scsi',
      bridges: createBridges(1, 'pci', 'pcie.0'),
      planned: [{ id: 'b0', bus: 'pcie.0', addr: '05' }],
    });
    expect(data.devices.map((d) => [d.id, d.origin, d.placement, d.backends])).toEqual([
      ['d0', 'cold', { bus: 'scsi0.0', scsi: { index: 0, scsiId: 0, lun: 0 } }, { node: 'drive-d0' }],
      ['b0', 'cold', { bus: 'pcie.0', addr: '05' }, { node: 'drive-b0' }],
      ['d1', 'cold', { bus: 'scsi0.0', scsi: { index: 1, scsiId: 0, lun: 1 } }, { node: 'drive-d1' }],
    ]);
    const record = DeviceRecord.fromJSON(data);
    expect(record.nextScsiIndex()).toBe(2);
    record.removeDevice('d0');
    expect(record.nextScsiIndex()).toBe(0);
  });
});

describe('spec validation and error classes', () => {
  it('lists every problem of a DeviceSpec in one HotplugInputError, in the Expected … got … style', () => {
    const err: unknown = (() => {
      try {
        return parseDeviceSpec({ kind: 'block', id: '1bad', file: 'relative' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(HotplugInputError);
    const issues = (err as HotplugInputError).issues;
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(/^Expected `device\.id` to be a device id matching .*, got `"1bad"`$/);
    expect(issues[1]).toMatch(/^Expected `device\.file` to be an absolute path, got `"relative"`$/);
    expect((err as HotplugInputError).code).toBe('ERR_HOTPLUG_INVALID');
    expect(parseDeviceSpec({ kind: 'vfio', id: 'v', bdf: '0000:01:00.0' })).toEqual({
      kind: 'vfio',
      id: 'v',
      bdf: '0000:01:00.0',
    });
  });

  it('tells the rollback outcome by class: refused, timed out or aborted with every undo done, or incomplete', () => {
    const refused = new StepRefused('device_add', new QmpCommandError('device_add', 'GenericError', 'nope'));
    const a = toHotplugError(refused, []);
    expect(a).toBeInstanceOf(HotplugRefusedError);
    expect(a).toBeInstanceOf(HotplugRolledBackError);
    expect(a.code).toBe('ERR_HOTPLUG_REFUSED');
    expect(toHotplugError(new QmpTimeoutError('blockdev-add', 10))).toBeInstanceOf(HotplugRolledBackError);
    const b = toHotplugError(refused, ['blockdev-del d1']);
    expect(b).toBeInstanceOf(HotplugRollbackIncompleteError);
    expect(b).not.toBeInstanceOf(HotplugRolledBackError);
    expect(b).toMatchObject({
      code: 'ERR_HOTPLUG_ROLLBACK_INCOMPLETE',
      failure: 'refused',
      left: ['blockdev-del d1'],
    });
    expect(new HotplugAbortedError('x')).toBeInstanceOf(HotplugRolledBackError);
    expect(new HotplugTimeoutError('x', 1)).not.toBeInstanceOf(HotplugRolledBackError);
    for (const e of [a, b, new HotplugCapacityError('maxmem', 'm')]) {
      expect(e).toBeInstanceOf(HotplugError);
      expect(Object.keys(e)).not.toContain('rolledBack');
    }
  });
});

describe('block device size', () => {
  // Any block device of this machine (a disk, or a loop device, which every Linux host has).
  const dev = readdirSync('/sys/block')
    .map((n) => `/dev/${n}`)
    .find((p) => {
      try {
        return statSync(p).isBlockDevice();
      } catch {
        return false;
      }
    });
  it('reads a block device size as BLKGETSIZE64 would (sysfs sectors × 512)', async () => {
    const st = statSync(dev as string);
    const name = (dev as string).split('/').pop() as string;
    const sectors = Number((await readFile(`/sys/class/block/${name}/size`, 'utf8')).trim());
    expect(await blockDeviceSizeBytes(st)).toBe(sectors * 512);
  });
});
