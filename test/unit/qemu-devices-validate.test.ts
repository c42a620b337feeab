// Device validation (govmm's Valid() and QEMU 7.2's own refusals) as typed errors naming the field,
// option escaping as a property, and the refusal classifier on QEMU's wording.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VmactorError } from '../../src/errors/vmactor-error.js';
import {
  classifyQemuStartError,
  defaultTransport,
  deviceArgs,
  QemuDeviceError,
  validateDevice,
  virtioDriver,
} from '../../src/qemu/devices/index.js';
import type { DeviceContext, QemuDevice } from '../../src/qemu/devices/types.js';

const Q35: DeviceContext = { arch: 'amd64', machineType: 'q35' };
const PC: DeviceContext = { arch: 'amd64', machineType: 'pc' };
const S390X: DeviceContext = { arch: 's390x', machineType: 's390-ccw-virtio' };
const VIRT: DeviceContext = { arch: 'arm64', machineType: 'virt' };

/** QEMU's QemuOpts reading of `a=b,,c,d`: `,,` is a literal comma; the first part may be bare. */
function parseOptions(s: string): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  let i = 0;
  while (i <= s.length) {
    let key = '';
    while (i < s.length && s[i] !== '=' && s[i] !== ',') key += s[i++];
    if (s[i] !== '=') {
      out.push([key, undefined]);
      i++;
      continue;
    }
    i++;
    let value = '';
    for (;;) {
      if (i >= s.length) break;
      if (s[i] === ',') {
        if (s[i + 1] === ',') {
          value += ',';
          i += 2;
          continue;
        }
        break;
      }
      value += s[i++];
    }
    out.push([key, value]);
    i++;
  }
  return out;
}

/**
 * The value of `key` in the option after `flag`: QemuOpts key=value, or a JSON option (`-device
 * '{...}'`, dotted keys for nested members) with booleans read as QEMU's `on`/`off`.
 */
function option(argv: readonly string[], flag: string, key: string): string | undefined {
  const i = argv.indexOf(flag);
  expect(i).toBeGreaterThanOrEqual(0);
  const value = argv[i + 1]!;
  if (value.startsWith('{')) {
    let v: unknown = JSON.parse(value);
    for (const k of key.split('.')) v = (v as Record<string, unknown> | undefined)?.[k];
    if (v === undefined) return undefined;
    return typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
  }
  return parseOptions(value).find(([k]) => k === key)?.[1];
}

const blk = (extra: Partial<Extract<QemuDevice, { type: 'block' }>> = {}): QemuDevice => ({
  type: 'block',
  id: 'drive0',
  file: '/img/root.img',
  format: 'raw',
  driver: 'virtio-blk',
  ...extra,
});
const net = (extra: Partial<Extract<QemuDevice, { type: 'net' }>> = {}): QemuDevice => ({
  type: 'net',
  netType: 'tap',
  driver: 'virtio-net',
  id: 'net0',
  ifname: 'tap0',
  mac: '52:54:00:12:34:56',
  ...extra,
});
const vhu = (extra: Partial<Extract<QemuDevice, { type: 'vhost-user' }>>): QemuDevice => ({
  type: 'vhost-user',
  vhostType: 'fs',
  socketPath: '/run/v.sock',
  charDevId: 'char0',
  tag: 'share',
  ...extra,
});

// [title, device, ctx, the field the error must name]
const INVALID: [string, unknown, DeviceContext, string][] = [
  ['a block device without a file', blk({ file: '' }), Q35, 'block.file'],
  ['a block device with a relative file', blk({ file: 'root.img' }), Q35, 'block.file'],
  ['a block id that QEMU would not accept', blk({ id: '0drive' }), Q35, 'block.id'],
  ['a block id carrying an option', blk({ id: 'd0,file=/etc/shadow' }), Q35, 'block.id'],
  ['an unknown image format', blk({ format: 'vmdk' as 'raw' }), Q35, 'block.format'],
  ['native AIO without O_DIRECT', blk({ aio: 'native' }), Q35, 'block.cache.direct'],
  ['scsi-hd without its SCSI address', blk({ driver: 'scsi-hd' }), Q35, 'block.scsi'],
  [
    'a SCSI LUN out of range',
    blk({ driver: 'scsi-hd', scsi: { bus: 'scsi0.0', scsiId: 0, lun: 20000 } }),
    Q35,
    'block.scsi.lun',
  ],
  [
    'a SCSI address on a virtio-blk disk',
    blk({ scsi: { bus: 'scsi0.0', scsiId: 0, lun: 0 } }),
    Q35,
    'block.scsi',
  ],
  ['a ccw transport on amd64', blk({ transport: 'ccw' }), Q35, 'block.transport'],
  ['an explicit ccw driver on amd64', blk({ driver: 'virtio-blk-ccw' }), Q35, 'block.transport'],
  ['an mmio transport on q35', blk({ transport: 'mmio' }), Q35, 'block.transport'],
  ['a malformed devno', blk({ devno: '0001' }), S390X, 'block.devno'],
  [
    'an IOMMU platform on a legacy virtio device',
    blk({ disableModern: true, iommuPlatform: true }),
    Q35,
    'block.iommuPlatform',
  ],
  ['a malformed PCI addr', blk({ addr: '0x123' }), Q35, 'block.addr'],
  ['a PCI addr on a ccw device', blk({ addr: '02' }), S390X, 'block.addr'],
  [
    'an nvdimm with zero size',
    { type: 'nvdimm', id: 'm0', deviceId: 'nv0', memPath: '/img', size: 0 },
    Q35,
    'nvdimm.size',
  ],
  [
    'a 9p share without a mount tag',
    { type: 'fs', fsType: 'virtio-9p', id: 'fs0', path: '/srv', mountTag: '', securityModel: 'none' },
    Q35,
    'fs.mountTag',
  ],
  [
    'a 9p mount tag over 31 bytes',
    {
      type: 'fs',
      fsType: 'virtio-9p',
      id: 'fs0',
      path: '/srv',
      mountTag: 'x'.repeat(32),
      securityModel: 'none',
    },
    Q35,
    'fs.mountTag',
  ],
  [
    'an unknown 9p security model',
    { type: 'fs', fsType: 'virtio-9p', id: 'fs0', path: '/srv', mountTag: 't', securityModel: 'mapped' },
    Q35,
    'fs.securityModel',
  ],
  [
    'a console socket without a path',
    { type: 'char', driver: 'virtconsole', backend: 'socket', id: 'c0', deviceId: 'con0' },
    Q35,
    'char.path',
  ],
  [
    'a console socket path longer than sun_path',
    {
      type: 'char',
      driver: 'virtconsole',
      backend: 'socket',
      id: 'c0',
      deviceId: 'con0',
      path: `/${'s'.repeat(107)}`,
    },
    Q35,
    'char.path',
  ],
  [
    'a serial port without a device id',
    { type: 'char', driver: 'virtserialport', backend: 'pty', id: 'c0' },
    Q35,
    'char.deviceId',
  ],
  [
    'a port name on a UART',
    { type: 'char', driver: 'isa-serial', backend: 'pty', id: 'c0', deviceId: 'u0', name: 'x' },
    PC,
    'char.name',
  ],
  [
    'an isa-serial UART on arm64',
    { type: 'char', driver: 'isa-serial', backend: 'pty', id: 'c0', deviceId: 'u0' },
    VIRT,
    'char.driver',
  ],
  [
    'a virtio-serial bus with 32 ports',
    { type: 'serial', driver: 'virtio-serial', id: 's0', maxPorts: 32 },
    Q35,
    'serial.maxPorts',
  ],
  ['a NIC without a MAC', net({ mac: '' }), Q35, 'net.mac'],
  ['a NIC with a malformed MAC', net({ mac: '52:54:00:12:34' }), Q35, 'net.mac'],
  ['a NIC without an interface name', net({ ifname: '' }), Q35, 'net.ifname'],
  ['an interface name over 15 bytes', net({ ifname: 'tap0123456789abc' }), Q35, 'net.ifname'],
  ['an unknown net type', net({ netType: 'bridge' as 'tap' }), Q35, 'net.netType'],
  ['a macvtap without fds', net({ netType: 'macvtap' }), Q35, 'net.fds'],
  ['a tap fd that is stdio', net({ fds: [2] }), Q35, 'net.fds[0]'],
  ['duplicate tap fds', net({ fds: [3, 3] }), Q35, 'net.fds'],
  ['vhost fds without vhost', net({ fds: [3], vhostFds: [4] }), Q35, 'net.vhost'],
  ['vhost fds without tap fds', net({ vhost: true, vhostFds: [4] }), Q35, 'net.vhostFds'],
  ['fewer vhost fds than queues', net({ fds: [3, 4], vhost: true, vhostFds: [5] }), Q35, 'net.vhostFds'],
  ['a queue count that contradicts the fds', net({ fds: [3, 4], queues: 4 }), Q35, 'net.queues'],
  ['a vhost-user fs without a tag', vhu({ tag: undefined }), Q35, 'vhost-user.tag'],
  ['a vhost-user fs with a DAX cache size', vhu({ cacheSize: 1024 }), Q35, 'vhost-user.cacheSize'],
  ['a vhost-user fs queue size not a power of two', vhu({ queueSize: 100 }), Q35, 'vhost-user.queueSize'],
  [
    'a vhost-user net without a MAC',
    vhu({ vhostType: 'net', tag: undefined, typeDevId: 'n0' }),
    Q35,
    'vhost-user.mac',
  ],
  [
    'a vhost-user scsi without a device id',
    vhu({ vhostType: 'scsi', tag: undefined }),
    Q35,
    'vhost-user.typeDevId',
  ],
  ['a vhost-user socket with a relative path', vhu({ socketPath: 'v.sock' }), Q35, 'vhost-user.socketPath'],
  ['a vfio device with neither BDF nor sysfs path', { type: 'vfio' }, Q35, 'vfio.bdf'],
  [
    'a vfio device with both BDF and sysfs path',
    { type: 'vfio', bdf: '01:00.0', sysfsDev: '/sys/x' },
    Q35,
    'vfio.bdf',
  ],
  ['a malformed BDF', { type: 'vfio', bdf: '0000:01:00' }, Q35, 'vfio.bdf'],
  [
    'a vendor id without a device id',
    { type: 'vfio', bdf: '01:00.0', vendorId: '0x10de' },
    Q35,
    'vfio.deviceId',
  ],
  ['vfio-ap on amd64', { type: 'vfio', driver: 'vfio-ap', sysfsDev: '/sys/x' }, Q35, 'vfio.driver'],
  [
    'a scsi controller iothread with a bad id',
    { type: 'scsi-controller', id: 's0', iothread: 'io 0' },
    Q35,
    'scsi-controller.iothread',
  ],
  [
    'a pci-bridge with chassis 0',
    { type: 'bridge', bridgeType: 'pci', bus: 'pci.0', id: 'b0', chassis: 0, shpc: true },
    PC,
    'bridge.chassis',
  ],
  [
    'a bridge slot beyond 31',
    { type: 'bridge', bridgeType: 'pci', bus: 'pci.0', id: 'b0', chassis: 1, shpc: true, addr: '32' },
    PC,
    'bridge.addr',
  ],
  [
    'reserve hints on a pcie-pci-bridge',
    {
      type: 'bridge',
      bridgeType: 'pcie',
      bus: 'pcie.0',
      id: 'b0',
      chassis: 1,
      shpc: false,
      memReserve: '1M',
    },
    Q35,
    'bridge.memReserve',
  ],
  [
    'a bridge on s390x',
    { type: 'bridge', bridgeType: 'pci', bus: 'pci.0', id: 'b0', chassis: 1, shpc: true },
    S390X,
    'ctx.arch',
  ],
  ['a root port on the i440fx pc machine', { type: 'pcie-root-port', id: 'rp0' }, PC, 'ctx.machineType'],
  [
    'a root port with both pref32 and pref64 reserves',
    { type: 'pcie-root-port', id: 'rp0', pref32Reserve: '1M', pref64Reserve: '1G' },
    Q35,
    'pcie-root-port.pref32Reserve',
  ],
  ['a vsock with the host CID', { type: 'vsock', id: 'vs0', contextId: 2 }, Q35, 'vsock.contextId'],
  [
    'a vsock with VMADDR_CID_ANY',
    { type: 'vsock', id: 'vs0', contextId: 0xffffffff },
    Q35,
    'vsock.contextId',
  ],
  [
    'a vsock vhost fd that is stdio',
    { type: 'vsock', id: 'vs0', contextId: 3, vhostFd: 1 },
    Q35,
    'vsock.vhostFd',
  ],
  ['an rng without an id', { type: 'rng', id: '' }, Q35, 'rng.id'],
  ['an rng on a relative file', { type: 'rng', id: 'r0', filename: 'urandom' }, Q35, 'rng.filename'],
  ['a balloon without an id', { type: 'balloon', id: '' }, Q35, 'balloon.id'],
  ['intel-iommu on arm64', { type: 'iommu' }, VIRT, 'ctx.machineType'],
  ['intel-iommu on i440fx', { type: 'iommu' }, PC, 'ctx.machineType'],
  ['a loader without a file', { type: 'loader', id: 'l0', file: '' }, Q35, 'loader.file'],
  ['pvpanic on s390x', { type: 'pvpanic' }, S390X, 'ctx.arch'],
  ['an unknown device type', { type: 'gpu' }, Q35, 'device.type'],
  ['an unknown arch', { type: 'pvpanic' }, { arch: 'riscv64' as 'amd64', machineType: 'virt' }, 'ctx.arch'],
];

describe('device validation', () => {
  for (const [title, device, ctx, field] of INVALID) {
    it(`refuses ${title} with ERR_QEMU_DEVICE_INVALID naming \`${field}\``, () => {
      let caught: unknown;
      try {
        deviceArgs(device as QemuDevice, ctx);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(QemuDeviceError);
      expect(caught).toBeInstanceOf(VmactorError);
      const err = caught as QemuDeviceError;
      expect(err.code).toBe('ERR_QEMU_DEVICE_INVALID');
      expect(err.name).toBe('QemuDeviceError');
      expect(err.field).toBe(field);
      expect(err.message).toMatch(
        new RegExp(`^Expected \`${field.replace(/[.[\]]/g, '\\$&')}\` to be .+, got \`.*\`$`, 's'),
      );
    });
  }

  it('validates the same way through validateDevice and the per-family builders', () => {
    expect(() => validateDevice(blk({ file: '' }), Q35)).toThrow(QemuDeviceError);
    expect(() => validateDevice(blk(), Q35)).not.toThrow();
  });

  it('accepts an empty romfile, which turns the option ROM off', () => {
    expect(option(deviceArgs(blk({ romfile: '' }), Q35), '-device', 'romfile')).toBe('');
  });

  it('ignores PCI-only and CCW-only knobs on other transports, as govmm does', () => {
    const ccw = deviceArgs(blk({ disableModern: true, romfile: '' }), S390X);
    expect(option(ccw, '-device', 'disable-modern')).toBeUndefined();
    expect(option(ccw, '-device', 'romfile')).toBeUndefined();
    const pci = deviceArgs(blk({ devno: 'fe.0.0001' }), Q35);
    expect(option(pci, '-device', 'devno')).toBeUndefined();
  });
});

describe('virtio transport rules', () => {
  it('defaults to ccw on s390x, mmio on microvm and pci elsewhere', () => {
    expect(defaultTransport(S390X)).toBe('ccw');
    expect(defaultTransport({ arch: 'amd64', machineType: 'microvm' })).toBe('mmio');
    expect(defaultTransport(Q35)).toBe('pci');
    expect(defaultTransport(VIRT)).toBe('pci');
    expect(defaultTransport({ arch: 'ppc64le', machineType: 'pseries' })).toBe('pci');
  });

  it('names drivers with the -pci, -ccw and -device suffixes', () => {
    expect(virtioDriver('virtio-net', 'pci')).toBe('virtio-net-pci');
    expect(virtioDriver('vhost-vsock', 'ccw')).toBe('vhost-vsock-ccw');
    expect(virtioDriver('virtio-blk', 'mmio')).toBe('virtio-blk-device');
  });

  it('lets an s390x device ask for zPCI explicitly', () => {
    expect(option(deviceArgs(blk({ transport: 'pci' }), S390X), '-device', 'driver')).toBe('virtio-blk-pci');
  });
});

describe('option escaping (property)', () => {
  const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0'));

  it('gets any block file path to QEMU intact, commas, `=`, spaces and quotes included', () => {
    fc.assert(
      fc.property(text, (name) => {
        const file = `/tmp/${name}`;
        expect(option(deviceArgs(blk({ file }), Q35), '-blockdev', 'file.filename')).toBe(file);
      }),
    );
  });

  it('gets any 9p path and mount tag to QEMU intact', () => {
    fc.assert(
      fc.property(
        text,
        text.filter((t) => Buffer.byteLength(t) <= 31),
        (name, tag) => {
          const argv = deviceArgs(
            {
              type: 'fs',
              fsType: 'virtio-9p',
              id: 'fs0',
              path: `/srv/${name}`,
              mountTag: tag,
              securityModel: 'none',
            },
            Q35,
          );
          expect(option(argv, '-fsdev', 'path')).toBe(`/srv/${name}`);
          expect(option(argv, '-device', 'mount_tag')).toBe(tag);
          expect(option(argv, '-device', 'fsdev')).toBe('fs0');
        },
      ),
    );
  });

  it('gets any chardev socket path and vhost-user-fs tag to QEMU intact', () => {
    fc.assert(
      fc.property(
        text.filter((t) => Buffer.byteLength(t) <= 36),
        (t) => {
          const path = `/run/${t}`;
          if (Buffer.byteLength(path) > 107) return;
          const argv = deviceArgs(vhu({ socketPath: path, tag: t }), Q35);
          expect(option(argv, '-chardev', 'path')).toBe(path);
          expect(option(argv, '-device', 'tag')).toBe(t);
        },
      ),
    );
  });

  it('either refuses an id or passes it through unchanged: no id can smuggle in an option', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (id) => {
        let argv: string[];
        try {
          argv = deviceArgs({ type: 'balloon', id }, Q35);
        } catch (e) {
          expect(e).toBeInstanceOf(QemuDeviceError);
          return;
        }
        const props = JSON.parse(argv[1]!) as Record<string, unknown>;
        expect(props.id).toBe(id);
        expect(Object.keys(props)).toEqual(['driver', 'id', 'deflate-on-oom', 'free-page-reporting']);
      }),
    );
  });
});

describe('classifyQemuStartError on QEMU 7.2 wording', () => {
  const cases: [string, string, string][] = [
    [
      'a host whose KVM refuses the vCPU MSRs (QEMU 7.2 then aborts)',
      "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\nqemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.\n",
      'ERR_QEMU_KVM_UNAVAILABLE',
    ],
    [
      'no KVM module',
      'Could not access KVM kernel module: No such file or directory\nqemu-system-x86_64: failed to initialize kvm: No such file or directory\n',
      'ERR_QEMU_KVM_UNAVAILABLE',
    ],
    [
      'a missing VFIO host device',
      'qemu-system-x86_64: -device vfio-pci,host=0000:ff:1f.7: vfio /sys/bus/pci/devices/0000:ff:1f.7: no such host device: No such file or directory\n',
      'ERR_QEMU_VFIO_UNAVAILABLE',
    ],
    [
      'a device without an IOMMU group',
      'qemu-system-x86_64: -device vfio-pci,host=0000:01:00.0: vfio 0000:01:00.0: no iommu_group found: Invalid argument\n',
      'ERR_QEMU_VFIO_UNAVAILABLE',
    ],
    [
      'a missing VFIO host device blamed on a JSON -device',
      'qemu-system-x86_64: -device {"driver":"vfio-pci","host":"0000:ff:1f.7","id":"gpu0"}: vfio /sys/bus/pci/devices/0000:ff:1f.7: no such host device: No such file or directory\n',
      'ERR_QEMU_VFIO_UNAVAILABLE',
    ],
    [
      'a missing vfio-ccw mediated device',
      "qemu-system-s390x: -device vfio-ccw,sysfsdev=/sys/bus/mdev/devices/4f4a,devno=fe.0.0006: Host device '/sys/bus/mdev/devices/4f4a' not found: No such file or directory\n",
      'ERR_QEMU_VFIO_UNAVAILABLE',
    ],
    [
      'vfio-ap without the AP facility',
      "qemu-system-s390x: -device vfio-ap,sysfsdev=/sys/devices/vfio_ap/matrix/7aa1: No 'ap-bus' bus found for device 'vfio-ap'\n",
      'ERR_QEMU_VFIO_UNAVAILABLE',
    ],
    [
      'a missing block image named like a host device (not VFIO)',
      "qemu-system-x86_64: -drive id=d0,file=/x.img,if=none: Could not open '/x.img': No such file or directory\n",
      'ERR_QEMU_REFUSED',
    ],
    [
      'a missing /dev/vhost-vsock',
      'qemu-system-x86_64: -device vhost-vsock-pci,id=vsock0,guest-cid=3: vhost-vsock: failed to open vhost device: No such file or directory\n',
      'ERR_QEMU_VHOST_VSOCK_UNAVAILABLE',
    ],
    [
      'a missing /dev/vhost-net followed by an abort',
      "qemu-system-x86_64: -netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=on: warning: tap: open vhost char device failed: No such file or directory\nqemu-system-x86_64: ../../net/net.c:1131: net_client_init1: Assertion `nc' failed.\n",
      'ERR_QEMU_VHOST_NET_UNAVAILABLE',
    ],
    [
      'a forced vhost-net that could not start',
      'qemu-system-x86_64: -netdev tap,id=n0,vhost=on,vhostforce=on: tap: open vhost char device failed: No such file or directory\n',
      'ERR_QEMU_VHOST_NET_UNAVAILABLE',
    ],
    [
      'a hugetlbfs path that does not exist',
      "qemu-system-x86_64: can't open backing store /dev/hugepages/vmactor for guest RAM: No such file or directory\n",
      'ERR_QEMU_HUGEPAGES_UNAVAILABLE',
    ],
    [
      'a vfio property typo (not a missing capability)',
      "qemu-system-x86_64: -device vfio-pci,hots=01:00.0: Property 'vfio-pci.hots' not found\n",
      'ERR_QEMU_REFUSED',
    ],
    ['an empty stderr', '', 'ERR_QEMU_REFUSED'],
  ];
  for (const [title, stderr, code] of cases) {
    it(`reads ${title} as ${code}`, () => {
      const err = classifyQemuStartError(stderr);
      expect(err.code).toBe(code);
      expect(err.stderr).toBe(stderr);
      expect(err).toBeInstanceOf(VmactorError);
    });
  }

  it('reads an unmappable backing store as a hugepage shortage only when hugepages were asked', () => {
    const stderr = 'qemu-system-x86_64: unable to map backing store for guest RAM: Cannot allocate memory\n';
    expect(classifyQemuStartError(stderr).code).toBe('ERR_QEMU_REFUSED');
    expect(classifyQemuStartError(stderr, { hugePages: true }).code).toBe('ERR_QEMU_HUGEPAGES_UNAVAILABLE');
  });

  it('names the option QEMU blamed and keeps its message', () => {
    const err = classifyQemuStartError(
      "qemu-system-x86_64: -drive id=d0,file=/x/missing.img,aio=threads,format=raw,if=none: Could not open '/x/missing.img': No such file or directory\n",
    );
    expect(err.option).toBe('-drive id=d0,file=/x/missing.img,aio=threads,format=raw,if=none');
    expect(err.message).toBe(
      "QEMU refused to start: Could not open '/x/missing.img': No such file or directory",
    );
  });
});
