// Pure parts of the hotplug layer: memory alignment, capacity guards over the device record, the
// spec validation, the QMP commands of each family (virtio-blk, scsi-hd, CCW, nvdimm, virtio-net,
// vfio, vCPUs), the initial record from a config, and the record's persistence.
import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { SandboxOperation } from '../../machines/operation.types.js';
import { createBridges } from '../../src/devices/bridges.js';
import { DeviceRecord, DeviceRecordVersionError } from '../../src/devices/record.js';
import type { DeviceRecordData } from '../../src/devices/record-types.js';
import { hotplugPlan } from '../../src/hotplug/build.js';
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
import { StepRefused, toHotplugError } from '../../src/hotplug/steps.js';
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

describe('the QMP commands of each family (the cold-plug builders, in hot-plug order)', () => {
  const spec = { kind: 'block' as const, id: 'd1', file: '/var/disk.img' };
  const file = { isBlockDevice: false };
  const steps = (p: ReturnType<typeof hotplugPlan>) =>
    p.commands.map((c) => [c.step.execute, c.step.fds ?? null, c.undo?.execute]);

  it('builds blockdev-add with a raw format node on a file node, threads AIO and the configured or the spec cache', () => {
    const p = hotplugPlan(spec, { bus: 'pci-bridge-0', addr: '01' }, testConfig(), 'sb', file);
    expect(steps(p)).toEqual([['blockdev-add', null, 'blockdev-del']]);
    expect(p.commands[0]?.step.arguments).toEqual({
      driver: 'raw',
      'node-name': 'drive-d1',
      'read-only': false,
      file: { driver: 'file', filename: '/var/disk.img', aio: 'threads' },
    });
    expect(p.backends).toEqual({ node: 'drive-d1' });
    const cached = hotplugPlan(
      { ...spec, format: 'qcow2', readOnly: true },
      {},
      testConfig({ blockDeviceCacheSet: true, blockDeviceCacheDirect: true, blockDeviceCacheNoflush: false }),
      'sb',
      { isBlockDevice: true },
    );
    expect(cached.commands[0]?.step.arguments).toMatchObject({
      driver: 'qcow2',
      'read-only': true,
      cache: { direct: true, 'no-flush': false },
      file: { driver: 'host_device' },
    });
    const own = hotplugPlan({ ...spec, cache: { noFlush: true } }, {}, testConfig(), 'sb', file);
    expect(own.commands[0]?.step.arguments).toMatchObject({ cache: { 'no-flush': true } });
  });

  it('builds virtio-blk-pci on a bridge slot and scsi-hd with id/LUN (share-rw on unless the spec turns it off), and records the spec with defaults', () => {
    const blk = hotplugPlan(spec, { bus: 'pci-bridge-0', addr: '01' }, testConfig(), 'sb', file);
    expect(blk.device).toMatchObject({
      driver: 'virtio-blk-pci',
      id: 'd1',
      drive: 'drive-d1',
      'share-rw': true,
      serial: 'd1',
      bus: 'pci-bridge-0',
      addr: '01',
    });
    expect(blk.spec).toMatchObject({ kind: 'block', format: 'raw', driver: 'virtio-blk', shareRW: true });
    const scsi = hotplugPlan(
      { ...spec, driver: 'virtio-scsi', shareRW: false },
      { bus: 'scsi0.0', scsi: { index: 259, scsiId: 1, lun: 3 } },
      testConfig(),
      'sb',
      file,
    );
    expect(scsi.device).toEqual({
      driver: 'scsi-hd',
      id: 'd1',
      drive: 'drive-d1',
      bus: 'scsi0.0',
      'scsi-id': 1,
      lun: 3,
    });
    const nv = hotplugPlan({ ...spec, driver: 'nvdimm' }, {}, testConfig(), 'sb', {
      isBlockDevice: false,
      sizeBytes: 4096,
    });
    expect(steps(nv)).toEqual([['object-add', null, 'object-del']]);
    expect(nv.commands[0]?.step.arguments).toMatchObject({
      'qom-type': 'memory-backend-file',
      id: 'nvdimmbackmem-d1',
      'mem-path': '/var/disk.img',
      size: 4096,
    });
    expect(nv.device).toEqual({ driver: 'nvdimm', id: 'd1', memdev: 'nvdimmbackmem-d1' });
    expect(nv.backends).toEqual({ objects: ['nvdimmbackmem-d1'] });
  });

  it('sends each tap and vhost fd with getfd first, then netdev_add by the fd names, then virtio-net-pci with the MAC and 2N+2 vectors', () => {
    const net = {
      kind: 'net' as const,
      id: 'n1',
      fds: [10, 11],
      vhostFds: [12, 13],
      mac: '52:54:00:00:00:01',
    };
    const p = hotplugPlan(
      net,
      { bus: 'pci-bridge-0', addr: '02' },
      testConfig({ disableVhostNet: false }),
      'sb',
      file,
    );
    expect(steps(p)).toEqual([
      ['getfd', [10], 'closefd'],
      ['getfd', [11], 'closefd'],
      ['getfd', [12], 'closefd'],
      ['getfd', [13], 'closefd'],
      ['netdev_add', null, 'netdev_del'],
    ]);
    expect(p.commands[4]?.step.arguments).toMatchObject({
      type: 'tap',
      id: 'net-n1',
      fds: 'fd-n1-0:fd-n1-1',
      vhost: true,
      vhostfds: 'vhostfd-n1-0:vhostfd-n1-1',
    });
    expect(p.device).toMatchObject({
      driver: 'virtio-net-pci',
      id: 'n1',
      netdev: 'net-n1',
      mac: '52:54:00:00:00:01',
      bus: 'pci-bridge-0',
      addr: '02',
      mq: true,
      vectors: 6,
    });
    expect(p.backends).toEqual({
      netdev: 'net-n1',
      fdNames: ['fd-n1-0', 'fd-n1-1', 'vhostfd-n1-0', 'vhostfd-n1-1'],
    });
    // By name, without a MAC: the sandbox's stable default MAC, the same cold plug gives.
    const byName = hotplugPlan({ kind: 'net', id: 'n2', ifname: 'tap0' }, {}, testConfig(), 'sb', file);
    expect(byName.commands[0]?.step.arguments).toMatchObject({ type: 'tap', id: 'net-n2', ifname: 'tap0' });
    expect(byName.spec).toMatchObject({ mac: expect.stringMatching(/^02(:[0-9a-f]{2}){5}$/), vhost: false });
  });

  it('puts VFIO on a bridge by default, on a root port for PCIe devices on q35 with root ports, else on the root bus; vhost-user-blk after its chardev', () => {
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
    const med = hotplugPlan(
      { kind: 'vfio', id: 'v', sysfsDev: '/sys/bus/mdev/devices/u' },
      {},
      testConfig(),
      'sb',
      file,
    );
    expect(med.commands).toEqual([]);
    expect(med.device).toMatchObject({ driver: 'vfio-pci', id: 'v', sysfsdev: '/sys/bus/mdev/devices/u' });
    expect(
      hotplugPlan({ kind: 'vfio', id: 'v', bdf: '0000:01:00.0' }, { bus: 'rp0' }, testConfig(), 'sb', file)
        .device,
    ).toMatchObject({ host: '0000:01:00.0', bus: 'rp0' });
    const vu = hotplugPlan(
      { kind: 'vhost-user', type: 'blk', id: 'vu', socketPath: '/run/vu.sock' },
      {},
      testConfig(),
      'sb',
      file,
    );
    expect(steps(vu)).toEqual([['chardev-add', null, 'chardev-remove']]);
    expect(vu.device).toMatchObject({ driver: 'vhost-user-blk-pci', id: 'vu', chardev: 'char-vu' });
    expect(vu.backends).toEqual({ chardev: 'char-vu' });
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
    const entry = (id: string, index?: number) => ({
      id,
      origin: 'cold' as const,
      spec: { kind: 'block' as const, id, file: '/a' },
      placement:
        index === undefined
          ? { bus: 'pcie.0', addr: '05' }
          : { bus: 'scsi0.0', scsi: { index, scsiId: 0, lun: index } },
      backends: { node: `drive-${id}` },
    });
    const record = DeviceRecord.create({ devices: [entry('d0', 0), entry('b0'), entry('d1', 1)] });
    expect(record.nextScsiIndex()).toBe(2);
    expect(record.hasId('drive-b0')).toBe(true);
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
