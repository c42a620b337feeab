// Pure parts of the hotplug layer: SCSI id/LUN, memory alignment, capacity guards, argument shapes
// (virtio-blk, scsi-hd, CCW, nvdimm-less paths, virtio-net, vfio, vCPUs), device state persistence.
import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { compareCpuSlots, isCpuDeleted, isCpuInserted } from '../../src/hotplug/cpu.js';
import {
  blockDeviceArgs,
  blockDeviceSizeBytes,
  blockdevArgs,
  calcHotplugMemMiBSize,
  capacityFor,
  cpuDeviceArgs,
  DeviceState,
  getSCSIIdLun,
  HotplugCapacityError,
  HotplugInputError,
  limitsOf,
  memoryBackendFor,
  netDeviceArgs,
  vfioDeviceArgs,
  vfioPlacementKind,
  virtioMemArgv,
  virtioMemRegionMiB,
} from '../../src/hotplug/index.js';
import { createBridges } from '../../src/qemu/bridges.js';
import { testConfig } from '../integration/hotplug-harness.js';

const limits = limitsOf({ config: testConfig(), limits: { hostMemMiB: 4096, maxMemMiB: 2048 } });

describe('GetSCSIIdLun', () => {
  it('maps a drive index to SCSI id index/256 and LUN index%256 as Kata does', () => {
    expect(getSCSIIdLun(0)).toEqual({ scsiId: 0, lun: 0 });
    expect(getSCSIIdLun(255)).toEqual({ scsiId: 0, lun: 255 });
    expect(getSCSIIdLun(256)).toEqual({ scsiId: 1, lun: 0 });
    expect(getSCSIIdLun(65534)).toEqual({ scsiId: 255, lun: 254 });
  });

  it('refuses negative indexes and indexes beyond 65535 drives with typed errors', () => {
    expect(() => getSCSIIdLun(-1)).toThrow(HotplugInputError);
    expect(() => getSCSIIdLun(65535)).toThrow(HotplugCapacityError);
  });
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
    const state = DeviceState.create({ bridges: createBridges(1, 'pci', 'pcie.0') });
    for (let i = 0; i < 30; i++) state.allocateSlot(`x${i}`, 'pci');
    expect(
      capacityFor(state, testConfig(), limits, { kind: 'hotplug-block', id: 'd', file: '/f' }),
    ).toMatchObject({
      ok: false,
      resource: 'bridge-slots',
    });
    const none = DeviceState.create();
    expect(
      capacityFor(none, testConfig(), limits, { kind: 'hotplug-net', id: 'n', ifname: 't' }),
    ).toMatchObject({
      ok: false,
    });
    // scsi-hd needs no bridge slot.
    expect(
      capacityFor(state, testConfig(), limits, {
        kind: 'hotplug-block',
        id: 'd',
        file: '/f',
        driver: 'virtio-scsi',
      }),
    ).toEqual({ ok: true });
  });

  it('checks memory slots, maxmem and host memory for DIMMs and aligns resize-memory first', () => {
    const state = DeviceState.create();
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
    const state = DeviceState.create();
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

describe('argument shapes', () => {
  const op = { kind: 'hotplug-block' as const, id: 'd1', file: '/var/disk.img' };

  it('builds blockdev-add with a raw format node on a file node, threads AIO and the configured cache options', () => {
    expect(blockdevArgs({ config: testConfig() }, op, false)).toEqual({
      driver: 'raw',
      'node-name': 'drive-d1',
      'read-only': false,
      file: { driver: 'file', filename: '/var/disk.img', aio: 'threads' },
    });
    const cached = blockdevArgs(
      {
        config: testConfig({
          blockDeviceCacheSet: true,
          blockDeviceCacheDirect: true,
          blockDeviceCacheNoflush: false,
        }),
      },
      { ...op, format: 'qcow2', readOnly: true },
      true,
    );
    expect(cached).toMatchObject({
      driver: 'qcow2',
      'read-only': true,
      cache: { direct: true, 'no-flush': false },
      file: { driver: 'host_device' },
    });
  });

  it('builds virtio-blk-pci on a bridge slot, scsi-hd with id/LUN, and virtio-blk-ccw with a devno (share-rw on by default)', () => {
    expect(blockDeviceArgs(op, 'virtio-blk', { bus: 'pci-bridge-0', addr: '01' })).toEqual({
      driver: 'virtio-blk-pci',
      id: 'd1',
      drive: 'drive-d1',
      'share-rw': true,
      serial: 'd1',
      bus: 'pci-bridge-0',
      addr: '01',
    });
    expect(
      blockDeviceArgs({ ...op, shareRw: false }, 'virtio-scsi', { scsi: { scsiId: 1, lun: 3 } }),
    ).toEqual({
      driver: 'scsi-hd',
      id: 'd1',
      drive: 'drive-d1',
      bus: 'scsi0.0',
      'scsi-id': 1,
      lun: 3,
    });
    expect(blockDeviceArgs(op, 'virtio-blk-ccw', { devno: 'fe.0.0001' })).toEqual({
      driver: 'virtio-blk-ccw',
      id: 'd1',
      drive: 'drive-d1',
      'share-rw': true,
      devno: 'fe.0.0001',
    });
  });

  it('builds virtio-net-pci with mac, mq and 2N+2 vectors, and virtio-net-ccw with a devno', () => {
    const net = { kind: 'hotplug-net' as const, id: 'n1', fds: [10, 11], mac: '52:54:00:00:00:01' };
    expect(netDeviceArgs(net, false, { bus: 'pci-bridge-0', addr: '02' }, 2)).toEqual({
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
    expect(netDeviceArgs(net, true, { devno: 'fe.0.0002' }, 2)).toEqual({
      driver: 'virtio-net-ccw',
      id: 'n1',
      netdev: 'net-n1',
      mac: '52:54:00:00:00:01',
      devno: 'fe.0.0002',
      mq: true,
    });
  });

  it('puts VFIO on a bridge by default, on a root port for PCIe devices on q35 with root ports, else on the root bus', () => {
    const c = (o: Parameters<typeof testConfig>[0]) => ({ config: testConfig(o) });
    expect(vfioPlacementKind(c({}), { pcie: true })).toBe('bridge');
    expect(vfioPlacementKind(c({ hotplugVFIOOnRootBus: true, pcieRootPort: 2 }), { pcie: true })).toBe(
      'root-port',
    );
    expect(vfioPlacementKind(c({ hotplugVFIOOnRootBus: true, pcieRootPort: 0 }), { pcie: true })).toBe(
      'root-bus',
    );
    expect(
      vfioPlacementKind(c({ hotplugVFIOOnRootBus: true, pcieRootPort: 2, hypervisorMachineType: 'pc' }), {
        pcie: true,
      }),
    ).toBe('root-bus');
    expect(
      vfioDeviceArgs({ kind: 'hotplug-vfio', id: 'v', host: '/sys/bus/mdev/devices/u' }, true, {}),
    ).toEqual({
      driver: 'vfio-pci',
      id: 'v',
      sysfsdev: '/sys/bus/mdev/devices/u',
      romfile: '',
    });
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

  it("chooses the memory backend as the seeds' getMemArgs: ram, shared file for virtio-fs or a file root dir, hugepages", () => {
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

describe('device state', () => {
  it('round-trips through JSON with its slots, devices, vCPUs, DIMMs and virtio-mem', () => {
    const state = DeviceState.create({
      bridges: createBridges(1, 'pci', 'pcie.0'),
      pcieRootPorts: 1,
      reservedBlockIndexes: [0],
    });
    const slot = state.allocateSlot('d1', 'pci');
    state.addDevice({
      kind: 'block',
      id: 'd1',
      driver: 'virtio-blk',
      file: '/f',
      nodeName: 'drive-d1',
      bus: slot.bridge.id,
      addr: slot.addr,
      pciPath: slot.pciPath as string,
      bridgeSlot: true,
    });
    state.addVcpu({ id: state.nextVcpuId(), props: { 'socket-id': 1 } });
    state.addDimm({ id: 'dimmmem0', backendId: 'mem0', slot: 0, sizeMiB: 128 });
    state.takeRootPort('v1');
    const json = JSON.parse(JSON.stringify(state.toJSON()));
    const back = DeviceState.fromJSON(json);
    expect(back.toJSON()).toEqual(state.toJSON());
    expect(back.device('d1')?.pciPath).toBe('02/01');
    expect(back.nextVcpuId()).toBe('cpu-1');
    expect(back.nextBlockIndex()).toBe(1);
    expect(back.rootPorts).toEqual({ rp0: 'v1' });
    expect(back.hotpluggedMemoryMiB).toBe(128);
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
