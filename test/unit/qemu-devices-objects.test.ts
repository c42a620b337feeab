// The builders' QMP objects: hot-plug command order and undos, the -chardev form derived from
// chardev-add's, and lowerDeviceSpec's one mapping (names, fds, placement, CIDs).
import { describe, expect, it } from 'vitest';
import type { Placement } from '../../src/devices/record-types.js';
import type { DeviceSpec } from '../../src/devices/spec.js';
import {
  buildQemuObjects,
  chardevOptions,
  hotplugCommands,
  objectsToArgv,
  QemuDeviceError,
  sizeBytes,
} from '../../src/qemu/devices/index.js';
import type { DeviceContext } from '../../src/qemu/devices/types.js';
import { PlanError } from '../../src/qemu/errors.js';
import { type LowerHypervisor, lowerDeviceSpec } from '../../src/qemu/lower-device.js';

const Q35: DeviceContext = { arch: 'amd64', machineType: 'q35' };
const HV: LowerHypervisor = {
  arch: 'amd64',
  blockDeviceDriver: 'virtio-blk',
  blockDeviceCacheSet: false,
  blockDeviceCacheDirect: false,
  blockDeviceCacheNoflush: false,
  disableVhostNet: false,
  entropySource: '/dev/urandom',
  iommuPlatform: false,
};
const lower = (spec: DeviceSpec, placement: Placement = {}, opts = {}) =>
  lowerDeviceSpec(spec, placement, HV, { sandboxId: 'sb1', ...opts });

describe('hotplugCommands', () => {
  it('orders chardev-add, netdev_add, device_add and pairs each with its undo', () => {
    const dev = lower({ kind: 'vhost-user', type: 'net', id: 'vn0', socketPath: '/run/vu.sock' });
    const cmds = hotplugCommands(buildQemuObjects(dev, Q35));
    expect(cmds.map((c) => [c.execute, c.undo?.execute])).toEqual([
      ['chardev-add', 'chardev-remove'],
      ['netdev_add', 'netdev_del'],
      ['device_add', 'device_del'],
    ]);
    expect(cmds.map((c) => c.undo?.arguments)).toEqual([
      { id: 'char-vn0' },
      { id: 'net-vn0' },
      { id: 'vn0' },
    ]);
  });

  it('puts object-add and blockdev-add before the device, undone by object-del and blockdev-del', () => {
    const rng = hotplugCommands(
      buildQemuObjects(lower({ kind: 'rng', id: 'r1' }, { bus: 'pcie.0', addr: '05' }), Q35),
    );
    expect(rng.map((c) => c.execute)).toEqual(['object-add', 'device_add']);
    expect(rng[0]?.undo).toEqual({ execute: 'object-del', arguments: { id: 'r1' } });
    const disk = hotplugCommands(buildQemuObjects(lower({ kind: 'block', id: 'd1', file: '/img' }), Q35));
    expect(disk.map((c) => c.execute)).toEqual(['blockdev-add', 'device_add']);
    expect(disk[0]?.undo).toEqual({ execute: 'blockdev-del', arguments: { 'node-name': 'drive-d1' } });
  });

  it('refuses a device with command-line-only parts (a 9p share) with QemuDeviceError', () => {
    const nineP = lower({ kind: 'fs', type: 'virtio-9p', id: 'p9', tag: 't', path: '/srv' });
    expect(() => hotplugCommands(buildQemuObjects(nineP, Q35))).toThrow(QemuDeviceError);
  });
});

describe('one chardev description, two forms', () => {
  it('derives -chardev key=value (commas doubled) from chardev-add arguments', () => {
    expect(
      chardevOptions({
        id: 'c0',
        backend: {
          type: 'socket',
          data: { addr: { type: 'unix', data: { path: '/run/a,b.sock' } }, server: true, wait: false },
        },
      }),
    ).toBe('socket,id=c0,path=/run/a,,b.sock,server=on,wait=off');
    expect(
      chardevOptions({
        id: 'c1',
        backend: {
          type: 'socket',
          data: { addr: { type: 'fd', data: { str: '5' } }, server: false, reconnect: 2 },
        },
      }),
    ).toBe('socket,id=c1,fd=5,reconnect=2');
    expect(chardevOptions({ id: 'c2', backend: { type: 'file', data: { out: '/log' } } })).toBe(
      'file,id=c2,path=/log',
    );
  });

  it('puts JSON on the command line for everything but -chardev and -fsdev', () => {
    const dev = lower({ kind: 'vhost-user', type: 'blk', id: 'vb0', socketPath: '/run/vb.sock' });
    const argv = objectsToArgv(buildQemuObjects(dev, Q35));
    expect(argv[0]).toBe('-chardev');
    expect(argv[1]).toBe('socket,id=char-vb0,path=/run/vb.sock');
    expect(argv[2]).toBe('-device');
    expect(JSON.parse(argv[3] as string)).toEqual({
      driver: 'vhost-user-blk-pci',
      chardev: 'char-vb0',
      id: 'vb0',
    });
  });
});

describe('lowerDeviceSpec', () => {
  it('names the objects as hot plug does: drive-, net-, char-, nvdimmbackmem-', () => {
    const disk = buildQemuObjects(lower({ kind: 'block', id: 'd0', file: '/img' }), Q35);
    expect(disk.blockdevs?.[0]?.['node-name']).toBe('drive-d0');
    expect(disk.device).toMatchObject({ id: 'd0', drive: 'drive-d0', serial: 'd0' });
    const nic = buildQemuObjects(lower({ kind: 'net', id: 'n0', ifname: 'tap9' }), Q35);
    expect(nic.netdevs?.[0]).toMatchObject({ type: 'tap', id: 'net-n0', ifname: 'tap9', vhost: true });
    expect(nic.device).toMatchObject({ id: 'n0', netdev: 'net-n0' });
    const pmem = lower(
      { kind: 'block', id: 'pm0', file: '/img', driver: 'nvdimm' },
      {},
      { sizeOf: () => 1 << 20 },
    );
    expect(buildQemuObjects(pmem, Q35).objects?.[0]).toMatchObject({ id: 'nvdimmbackmem-pm0', share: true });
  });

  it('refers to fds as the caller says: QEMU numbers for cold plug, monitor fd names for hot plug', () => {
    const spec: DeviceSpec = { kind: 'net', id: 'n1', fds: [30, 31], vhostFds: [32, 33] };
    const hot = lower(
      spec,
      {},
      { fdRef: (_h: number, p: string, i: number) => `${p === 'tap' ? 'fd' : 'vhostfd'}-n1-${i}` },
    );
    const o = buildQemuObjects(hot, Q35);
    expect(o.netdevs?.[0]).toMatchObject({ fds: 'fd-n1-0:fd-n1-1', vhostfds: 'vhostfd-n1-0:vhostfd-n1-1' });
    expect(o.fds?.map((f) => f.purpose)).toEqual(['tap', 'tap', 'vhost-net', 'vhost-net']);
    expect(o.device).toMatchObject({ mq: true, vectors: 6 });
  });

  it('applies the placement: bus/addr on PCI, the SCSI id/LUN on scsi-hd (required there)', () => {
    const nic = lower({ kind: 'net', id: 'n2', ifname: 't2' }, { bus: 'pci-bridge-0', addr: '03' });
    expect(buildQemuObjects(nic, Q35).device).toMatchObject({ bus: 'pci-bridge-0', addr: '03' });
    const scsi: DeviceSpec = { kind: 'block', id: 's1', file: '/img', driver: 'virtio-scsi' };
    const placed = lower(scsi, { bus: 'scsi0.0', scsi: { index: 257, scsiId: 1, lun: 1 } });
    expect(buildQemuObjects(placed, Q35).device).toMatchObject({ bus: 'scsi0.0', 'scsi-id': 1, lun: 1 });
    expect(() => lower(scsi, {})).toThrow(PlanError);
  });

  it("takes a vsock CID from the spec, else from the allocator's answer, else refuses", () => {
    expect(lower({ kind: 'vsock', id: 'v0', contextId: 7 })).toMatchObject({ contextId: 7 });
    expect(lower({ kind: 'vsock', id: 'v1' }, {}, { contextId: 1234 })).toMatchObject({ contextId: 1234 });
    expect(() => lower({ kind: 'vsock', id: 'v2' })).toThrow(PlanError);
  });
});

describe('sizeBytes', () => {
  it('reads QEMU size suffixes as JSON options need them: numbers of bytes', () => {
    expect(sizeBytes('4096')).toBe(4096);
    expect(sizeBytes('1M')).toBe(1 << 20);
    expect(sizeBytes('2G')).toBe(2 * 1024 ** 3);
    expect(() => sizeBytes('1.5M')).toThrow(QemuDeviceError);
  });
});
