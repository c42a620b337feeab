// Device validation: govmm's `Valid()` per device, plus what QEMU 7.2 would refuse at start-up,
// as a typed `QemuDeviceError` naming the field, before anything is launched.
import { QemuDeviceError } from './errors.js';
import { resolveTransport } from './transport.js';
import type {
  BalloonDevice,
  BlockDevice,
  BridgeDevice,
  CharDevice,
  DeviceContext,
  FsDevice,
  IommuDevice,
  LoaderDevice,
  NetDevice,
  NvdimmDevice,
  PcieRootPortDevice,
  PvpanicDevice,
  QemuDevice,
  RngDevice,
  ScsiControllerDevice,
  SerialDevice,
  VfioDevice,
  VhostUserDevice,
  VirtioOptions,
  VsockDevice,
} from './types.js';

/** QEMU's `id_wellformed()`: a letter, then letters, digits, `-`, `.`, `_`. */
export const QEMU_ID_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
/** Smallest guest CID (0-2 are reserved: hypervisor, local, host). */
export const MIN_GUEST_CID = 3;
/** Largest guest CID: `u32` minus `VMADDR_CID_ANY` (0xffffffff), which the kernel refuses. */
export const MAX_GUEST_CID = 0xffff_fffe;
/** Longest Unix socket path QEMU can bind/connect (`sun_path` is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

const ARCHES = new Set(['amd64', 'arm64', 'ppc64le', 's390x']);
const BDF_RE = /^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\.[0-7]$/;
const DEVNO_RE = /^[0-9a-fA-F]{1,2}\.[0-3]\.[0-9a-fA-F]{4}$/;
const PCI_ADDR_RE = /^(0x)?[0-9a-fA-F]{1,2}(\.(0x)?[0-7])?$/;
const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const SIZE_RE = /^\d+[KMGT]?$/;
const PCI_ID_RE = /^(0x[0-9a-fA-F]{1,4}|\d{1,5})$/;

function fail(field: string, expected: string, got: unknown): never {
  throw new QemuDeviceError(field, expected, got);
}

function id(field: string, v: unknown): void {
  if (typeof v !== 'string' || !QEMU_ID_RE.test(v)) {
    fail(field, 'a QEMU id (a letter, then letters, digits, `-`, `.`, `_`; at most 128)', v);
  }
}

function optId(field: string, v: unknown): void {
  if (v !== undefined) id(field, v);
}

function absPath(field: string, v: unknown): void {
  if (typeof v !== 'string' || !v.startsWith('/') || v.includes('\0')) {
    fail(field, 'an absolute path without NUL bytes', v);
  }
}

function socketPath(field: string, v: unknown): void {
  absPath(field, v);
  if (Buffer.byteLength(v as string) > MAX_SOCKET_PATH_BYTES) {
    fail(field, `a Unix socket path of at most ${MAX_SOCKET_PATH_BYTES} bytes (or pass an fd)`, v);
  }
}

function nonEmpty(field: string, v: unknown): void {
  if (typeof v !== 'string' || v === '' || v.includes('\0')) fail(field, 'a non-empty string', v);
}

function oneOf<T extends string>(field: string, v: unknown, allowed: readonly T[]): void {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    fail(field, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, v);
  }
}

function int(field: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(field, `an integer in ${min}..${max}`, v);
  }
}

function optInt(field: string, v: unknown, min: number, max: number): void {
  if (v !== undefined) int(field, v, min, max);
}

function optBool(field: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'boolean') fail(field, 'a boolean', v);
}

function optSize(field: string, v: unknown): void {
  if (v !== undefined && (typeof v !== 'string' || !SIZE_RE.test(v))) {
    fail(field, 'a size like `1M`, `32M`, `2G`', v);
  }
}

function fd(field: string, v: unknown): void {
  int(field, v, 3, 0x7fff_ffff);
}

function fdList(field: string, v: unknown): readonly number[] {
  if (!Array.isArray(v)) fail(field, 'an array of fd numbers', v);
  for (const [i, x] of v.entries()) fd(`${field}[${i}]`, x);
  if (new Set(v).size !== v.length) fail(field, 'distinct fd numbers', v);
  return v as readonly number[];
}

function isQ35(machineType: string): boolean {
  return machineType === 'q35' || machineType.startsWith('pc-q35');
}

/** Checks the context every builder receives. */
export function validateContext(ctx: DeviceContext): void {
  if (typeof ctx !== 'object' || ctx === null) fail('ctx', 'an object `{ arch, machineType }`', ctx);
  oneOf('ctx.arch', ctx.arch, [...ARCHES] as DeviceContext['arch'][]);
  nonEmpty('ctx.machineType', ctx.machineType);
}

/**
 * Transport knobs: `ccw` only on s390x, `mmio` only where a virtio-mmio bus exists (microvm, arm64
 * virt), `devno` in CCW form, `addr` a PCI slot[.function]. PCI-only knobs (`disableModern`,
 * `romfile`) and CCW-only ones (`devno`) are ignored on other transports, as in govmm.
 */
export function validateVirtio(prefix: string, dev: VirtioOptions, ctx: DeviceContext): void {
  if (dev.transport !== undefined) oneOf(`${prefix}.transport`, dev.transport, ['pci', 'ccw', 'mmio']);
  const t = resolveTransport(dev, ctx);
  if (t === 'ccw' && ctx.arch !== 's390x') fail(`${prefix}.transport`, "'ccw' only on arch s390x", t);
  if (
    t === 'mmio' &&
    !(ctx.machineType === 'microvm' || (ctx.arch === 'arm64' && ctx.machineType === 'virt'))
  ) {
    fail(`${prefix}.transport`, "'mmio' only on machine `microvm` or arm64 `virt`", t);
  }
  optBool(`${prefix}.disableModern`, dev.disableModern);
  optBool(`${prefix}.iommuPlatform`, dev.iommuPlatform);
  if (dev.iommuPlatform && dev.disableModern && t === 'pci') {
    // QEMU 7.2: "VIRTIO_F_IOMMU_PLATFORM was supported by neither legacy nor transitional device".
    fail(
      `${prefix}.iommuPlatform`,
      'absent with `disableModern` (a legacy virtio device has no IOMMU platform)',
      true,
    );
  }
  if (dev.romfile !== undefined && (typeof dev.romfile !== 'string' || dev.romfile.includes('\0'))) {
    fail(`${prefix}.romfile`, 'a path, or empty to disable the option ROM', dev.romfile);
  }
  if (dev.devno !== undefined && (typeof dev.devno !== 'string' || !DEVNO_RE.test(dev.devno))) {
    fail(`${prefix}.devno`, 'a CCW device number `<cssid>.<ssid>.<devno>` like `fe.0.0001`', dev.devno);
  }
  optId(`${prefix}.bus`, dev.bus);
  if (dev.addr !== undefined && (typeof dev.addr !== 'string' || !PCI_ADDR_RE.test(dev.addr))) {
    fail(`${prefix}.addr`, 'a PCI slot[.function] in hex like `02` or `1f.3`', dev.addr);
  }
  if (dev.addr !== undefined && t !== 'pci')
    fail(`${prefix}.addr`, `absent on the ${t} transport (PCI only)`, dev.addr);
}

/** govmm `BlockDevice.Valid()`: driver, id and file set; plus scsi-hd addressing and aio/cache rules. */
export function validateBlock(dev: BlockDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  oneOf('block.driver', dev.driver, [
    'virtio-blk',
    'scsi-hd',
    'virtio-blk-pci',
    'virtio-blk-ccw',
    'virtio-blk-device',
  ]);
  id('block.id', dev.id);
  absPath('block.file', dev.file);
  oneOf('block.format', dev.format, ['raw', 'qcow2']);
  if (dev.aio !== undefined) oneOf('block.aio', dev.aio, ['threads', 'native', 'io_uring']);
  optBool('block.shareRW', dev.shareRW);
  optBool('block.readOnly', dev.readOnly);
  optBool('block.wce', dev.wce);
  optBool('block.cache.direct', dev.cache?.direct);
  optBool('block.cache.noFlush', dev.cache?.noFlush);
  if (dev.aio === 'native' && dev.cache?.direct !== true) {
    fail(
      'block.cache.direct',
      'true when `aio` is `native` (QEMU requires O_DIRECT for native AIO)',
      dev.cache?.direct,
    );
  }
  if (dev.driver === 'scsi-hd') {
    if (dev.scsi === undefined) fail('block.scsi', '`{ bus, scsiId, lun }` for driver scsi-hd', dev.scsi);
    nonEmpty('block.scsi.bus', dev.scsi.bus);
    int('block.scsi.scsiId', dev.scsi.scsiId, 0, 255);
    int('block.scsi.lun', dev.scsi.lun, 0, 16383);
  } else {
    if (dev.scsi !== undefined) fail('block.scsi', 'absent unless driver is scsi-hd', dev.scsi);
    const t = dev.driver === 'virtio-blk' ? dev : { ...dev, transport: explicitTransport(dev.driver) };
    validateVirtio('block', t, ctx);
  }
}

function explicitTransport(driver: string): VirtioOptions['transport'] {
  if (driver.endsWith('-ccw')) return 'ccw';
  if (driver.endsWith('-device')) return 'mmio';
  return 'pci';
}

/** govmm `Object.Valid()` for an NVDIMM: ids, mem-path and a positive size. */
export function validateNvdimm(dev: NvdimmDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  if (ctx.arch === 's390x') fail('ctx.arch', 'an arch with NVDIMM support (not s390x)', ctx.arch);
  id('nvdimm.id', dev.id);
  id('nvdimm.deviceId', dev.deviceId);
  absPath('nvdimm.memPath', dev.memPath);
  int('nvdimm.size', dev.size, 1, Number.MAX_SAFE_INTEGER);
  optBool('nvdimm.readOnly', dev.readOnly);
}

/** govmm `FSDevice.Valid()`: id, path and mount tag set; QEMU's 31-byte 9p tag limit. */
export function validateFs(dev: FsDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  oneOf('fs.fsType', dev.fsType, ['virtio-9p']);
  id('fs.id', dev.id);
  absPath('fs.path', dev.path);
  nonEmpty('fs.mountTag', dev.mountTag);
  if (Buffer.byteLength(dev.mountTag) > 31)
    fail('fs.mountTag', 'at most 31 bytes (QEMU 9p limit)', dev.mountTag);
  if (dev.fsDriver !== undefined) oneOf('fs.fsDriver', dev.fsDriver, ['local']);
  oneOf('fs.securityModel', dev.securityModel, ['none', 'passthrough', 'mapped-xattr', 'mapped-file']);
  if (dev.multidev !== undefined) oneOf('fs.multidev', dev.multidev, ['remap', 'forbid', 'warn']);
  validateVirtio('fs', dev, ctx);
}

const PATH_BACKENDS = ['file', 'pipe', 'serial', 'tty'];

/** govmm `CharDevice.Valid()`: id and path set (path-less backends excepted), device id for ports. */
export function validateChar(dev: CharDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  oneOf('char.driver', dev.driver, ['virtconsole', 'virtserialport', 'isa-serial', 'pci-serial', 'serial']);
  oneOf('char.backend', dev.backend, ['socket', 'pty', 'file', 'stdio', 'pipe', 'serial', 'tty', 'null']);
  id('char.id', dev.id);
  if (dev.driver !== 'serial') id('char.deviceId', dev.deviceId);
  if (dev.backend === 'socket') {
    if (dev.fd !== undefined) fd('char.fd', dev.fd);
    else socketPath('char.path', dev.path);
  } else {
    if (dev.fd !== undefined) fail('char.fd', 'absent unless backend is socket', dev.fd);
    if (PATH_BACKENDS.includes(dev.backend)) absPath('char.path', dev.path);
    else if (dev.path !== undefined) fail('char.path', `absent for backend ${dev.backend}`, dev.path);
  }
  optBool('char.server', dev.server);
  if (dev.name !== undefined) {
    if (dev.driver !== 'virtserialport' && dev.driver !== 'virtconsole') {
      fail('char.name', 'absent unless driver is virtserialport or virtconsole', dev.name);
    }
    nonEmpty('char.name', dev.name);
  }
  if (dev.driver === 'isa-serial' && ctx.arch !== 'amd64')
    fail('char.driver', 'isa-serial only on amd64', dev.driver);
  if (dev.driver === 'pci-serial' && ctx.arch === 's390x')
    fail('char.driver', 'pci-serial not on s390x', dev.driver);
  optId('char.bus', dev.bus);
}

/** govmm `SerialDevice.Valid()`: driver and id set. */
export function validateSerial(dev: SerialDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  oneOf('serial.driver', dev.driver, ['virtio-serial']);
  id('serial.id', dev.id);
  optInt('serial.maxPorts', dev.maxPorts, 1, 31);
  validateVirtio('serial', dev, ctx);
}

/**
 * govmm `NetDevice.Valid()`: id and ifname set, type tap or macvtap; plus the fd rules QEMU
 * enforces (vhostfds need fds and vhost, one per queue; macvtap needs fds).
 */
export function validateNet(dev: NetDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  oneOf('net.netType', dev.netType, ['tap', 'macvtap']);
  oneOf('net.driver', dev.driver, ['virtio-net', 'virtio-net-pci', 'virtio-net-ccw', 'virtio-net-device']);
  id('net.id', dev.id);
  optId('net.deviceId', dev.deviceId);
  nonEmpty('net.ifname', dev.ifname);
  if (Buffer.byteLength(dev.ifname) > 15 || /[\s/:,=]/.test(dev.ifname)) {
    fail(
      'net.ifname',
      'an interface name of at most 15 bytes without whitespace, `/`, `:`, `,` or `=`',
      dev.ifname,
    );
  }
  if (typeof dev.mac !== 'string' || !MAC_RE.test(dev.mac))
    fail('net.mac', 'a MAC like `52:54:00:12:34:56`', dev.mac);
  optBool('net.vhost', dev.vhost);
  const fds = dev.fds === undefined ? [] : fdList('net.fds', dev.fds);
  const vhostFds = dev.vhostFds === undefined ? [] : fdList('net.vhostFds', dev.vhostFds);
  if (dev.netType === 'macvtap' && fds.length === 0) {
    fail('net.fds', 'the macvtap queue fds (QEMU cannot open a macvtap by name)', dev.fds);
  }
  if (vhostFds.length > 0) {
    if (!dev.vhost) fail('net.vhost', 'true when `vhostFds` are given', dev.vhost);
    if (vhostFds.length !== fds.length)
      fail('net.vhostFds', `one fd per tap fd (${fds.length})`, dev.vhostFds);
    const both = fds.filter((f) => vhostFds.includes(f));
    if (both.length > 0) fail('net.vhostFds', 'fds distinct from `fds`', dev.vhostFds);
  }
  optInt('net.queues', dev.queues, 1, 1024);
  if (fds.length > 0 && dev.queues !== undefined && dev.queues !== fds.length) {
    fail('net.queues', `the number of tap fds (${fds.length}) or absent`, dev.queues);
  }
  if (dev.script !== undefined) nonEmpty('net.script', dev.script);
  if (dev.downScript !== undefined) nonEmpty('net.downScript', dev.downScript);
  const t = dev.driver === 'virtio-net' ? dev : { ...dev, transport: explicitTransport(dev.driver) };
  validateVirtio('net', t, ctx);
}

/**
 * govmm `VhostUserDevice.Valid()`: socket path (or, vmactor, a socket fd) and chardev id set, a type dev id for net/scsi,
 * a MAC for net, a tag for fs; QEMU 7.2 has no vhost-user-fs `cache-size` (DAX).
 */
export function validateVhostUser(dev: VhostUserDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  oneOf('vhost-user.vhostType', dev.vhostType, ['blk', 'scsi', 'net', 'fs']);
  if ((dev.socketPath === undefined) === (dev.socketFd === undefined)) {
    fail('vhost-user.socketPath', 'exactly one of `socketPath` or `socketFd`', dev.socketPath);
  }
  if (dev.socketFd !== undefined) {
    fd('vhost-user.socketFd', dev.socketFd);
    if (dev.reconnect !== undefined)
      fail('vhost-user.reconnect', 'absent with `socketFd` (QEMU cannot reopen an fd)', dev.reconnect);
  } else {
    socketPath('vhost-user.socketPath', dev.socketPath);
  }
  id('vhost-user.charDevId', dev.charDevId);
  if (dev.vhostType === 'net' || dev.vhostType === 'scsi') id('vhost-user.typeDevId', dev.typeDevId);
  else optId('vhost-user.typeDevId', dev.typeDevId);
  if (dev.vhostType === 'net') {
    if (typeof dev.mac !== 'string' || !MAC_RE.test(dev.mac)) {
      fail('vhost-user.mac', 'a MAC like `52:54:00:12:34:56` for a vhost-user net device', dev.mac);
    }
  } else if (dev.mac !== undefined) {
    fail('vhost-user.mac', 'absent unless vhostType is net', dev.mac);
  }
  if (dev.vhostType === 'fs') {
    nonEmpty('vhost-user.tag', dev.tag);
    if (Buffer.byteLength(dev.tag!) > 36) fail('vhost-user.tag', 'at most 36 bytes (virtio-fs tag)', dev.tag);
  } else if (dev.tag !== undefined) {
    fail('vhost-user.tag', 'absent unless vhostType is fs', dev.tag);
  }
  if (dev.cacheSize !== undefined && dev.cacheSize !== 0) {
    fail(
      'vhost-user.cacheSize',
      '0 or absent (QEMU 7.2 vhost-user-fs has no DAX `cache-size`)',
      dev.cacheSize,
    );
  }
  if (dev.queueSize !== undefined) {
    if (dev.vhostType !== 'fs' && dev.vhostType !== 'blk') {
      fail('vhost-user.queueSize', 'absent unless vhostType is fs or blk', dev.queueSize);
    }
    int('vhost-user.queueSize', dev.queueSize, 1, 1024);
    if ((dev.queueSize & (dev.queueSize - 1)) !== 0) {
      fail('vhost-user.queueSize', 'a power of two up to 1024', dev.queueSize);
    }
  }
  if (dev.numQueues !== undefined) {
    if (dev.vhostType === 'fs') fail('vhost-user.numQueues', 'absent for vhostType fs', dev.numQueues);
    int('vhost-user.numQueues', dev.numQueues, 1, 1024);
  }
  optInt('vhost-user.reconnect', dev.reconnect, 1, 3600);
  validateVirtio('vhost-user', dev, ctx);
}

/** govmm `VFIODevice.Valid()`: a BDF (or, for mediated devices, a sysfs path); ids paired. */
export function validateVfio(dev: VfioDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  if ((dev.bdf === undefined) === (dev.sysfsDev === undefined)) {
    fail('vfio.bdf', 'exactly one of `bdf` (host device) or `sysfsDev` (mediated device)', dev.bdf);
  }
  if (dev.bdf !== undefined && (typeof dev.bdf !== 'string' || !BDF_RE.test(dev.bdf))) {
    fail('vfio.bdf', 'a PCI address like `0000:01:00.0`', dev.bdf);
  }
  if (dev.sysfsDev !== undefined) absPath('vfio.sysfsDev', dev.sysfsDev);
  optId('vfio.id', dev.id);
  if ((dev.vendorId === undefined) !== (dev.deviceId === undefined)) {
    fail('vfio.deviceId', 'set together with `vendorId` (or both absent)', dev.deviceId);
  }
  if (dev.vendorId !== undefined && (typeof dev.vendorId !== 'string' || !PCI_ID_RE.test(dev.vendorId))) {
    fail('vfio.vendorId', 'a PCI id like `0x10de`', dev.vendorId);
  }
  if (dev.deviceId !== undefined && (typeof dev.deviceId !== 'string' || !PCI_ID_RE.test(dev.deviceId))) {
    fail('vfio.deviceId', 'a PCI id like `0x1eb8`', dev.deviceId);
  }
  if (dev.driver !== undefined) {
    oneOf('vfio.driver', dev.driver, ['vfio-pci', 'vfio-ccw', 'vfio-ap']);
    if (dev.driver !== 'vfio-pci' && ctx.arch !== 's390x')
      fail('vfio.driver', `${dev.driver} only on s390x`, dev.driver);
    if (dev.driver !== 'vfio-pci' && dev.sysfsDev === undefined) {
      fail('vfio.sysfsDev', `the mediated device path for ${dev.driver}`, dev.sysfsDev);
    }
  }
  validateVirtio('vfio', dev, ctx);
}

/** govmm `SCSIController.Valid()`: id set; iothread a QEMU id. */
export function validateScsiController(dev: ScsiControllerDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  id('scsi-controller.id', dev.id);
  optId('scsi-controller.iothread', dev.iothread);
  optInt('scsi-controller.numQueues', dev.numQueues, 1, 1024);
  validateVirtio('scsi-controller', dev, ctx);
}

/** govmm `BridgeDevice.Valid()`: type, bus and id set; Kata's chassis > 0 and a slot below 32. */
export function validateBridge(dev: BridgeDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  if (ctx.arch === 's390x') fail('ctx.arch', 'an arch with PCI bridges (s390x uses CCW)', ctx.arch);
  oneOf('bridge.bridgeType', dev.bridgeType, ['pci', 'pcie']);
  id('bridge.bus', dev.bus);
  id('bridge.id', dev.id);
  if (dev.bridgeType === 'pci') {
    int('bridge.chassis', dev.chassis, 1, 255);
    if (typeof dev.shpc !== 'boolean') fail('bridge.shpc', 'a boolean', dev.shpc);
  }
  if (dev.addr !== undefined) {
    if (typeof dev.addr !== 'string' || !/^\d{1,2}$/.test(dev.addr) || Number(dev.addr) > 31) {
      fail('bridge.addr', 'a decimal slot number 0..31', dev.addr);
    }
  }
  if (dev.romfile !== undefined && (typeof dev.romfile !== 'string' || dev.romfile.includes('\0'))) {
    fail('bridge.romfile', 'a path, or empty to disable the option ROM', dev.romfile);
  }
  const reserves = [dev.ioReserve, dev.memReserve, dev.pref64Reserve];
  if (dev.bridgeType === 'pcie' && reserves.some((r) => r !== undefined)) {
    fail(
      'bridge.memReserve',
      'absent for a pcie-pci-bridge (only pci-bridge takes reserve hints)',
      dev.memReserve,
    );
  }
  optSize('bridge.ioReserve', dev.ioReserve);
  optSize('bridge.memReserve', dev.memReserve);
  optSize('bridge.pref64Reserve', dev.pref64Reserve);
}

/** govmm `PCIeRootPortDevice.Valid()`: id set, pref32/pref64 reserves exclusive; a PCIe machine. */
export function validatePcieRootPort(dev: PcieRootPortDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  if (ctx.arch === 's390x' || (ctx.arch === 'amd64' && !isQ35(ctx.machineType))) {
    fail('ctx.machineType', 'a PCIe machine (q35, arm64 virt, ppc64le pseries)', ctx.machineType);
  }
  id('pcie-root-port.id', dev.id);
  optId('pcie-root-port.bus', dev.bus);
  optInt('pcie-root-port.chassis', dev.chassis, 0, 255);
  optInt('pcie-root-port.slot', dev.slot, 0, 255);
  optBool('pcie-root-port.multifunction', dev.multifunction);
  if (dev.addr !== undefined && (typeof dev.addr !== 'string' || !PCI_ADDR_RE.test(dev.addr))) {
    fail('pcie-root-port.addr', 'a PCI slot[.function] in hex like `1c` or `0x1c.0x1`', dev.addr);
  }
  optInt('pcie-root-port.busReserve', dev.busReserve, 0, 255);
  if (dev.pref32Reserve !== undefined && dev.pref64Reserve !== undefined) {
    fail(
      'pcie-root-port.pref32Reserve',
      'absent when `pref64Reserve` is set (they are exclusive)',
      dev.pref32Reserve,
    );
  }
  optSize('pcie-root-port.ioReserve', dev.ioReserve);
  optSize('pcie-root-port.memReserve', dev.memReserve);
  optSize('pcie-root-port.pref32Reserve', dev.pref32Reserve);
  optSize('pcie-root-port.pref64Reserve', dev.pref64Reserve);
  if (dev.romfile !== undefined && (typeof dev.romfile !== 'string' || dev.romfile.includes('\0'))) {
    fail('pcie-root-port.romfile', 'a path, or empty to disable the option ROM', dev.romfile);
  }
}

/** govmm `VSOCKDevice.Valid()`: id set, guest CID in 3..0xffffffff. */
export function validateVsock(dev: VsockDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  id('vsock.id', dev.id);
  int('vsock.contextId', dev.contextId, MIN_GUEST_CID, MAX_GUEST_CID);
  if (dev.vhostFd !== undefined) fd('vsock.vhostFd', dev.vhostFd);
  validateVirtio('vsock', dev, ctx);
}

/** govmm `RngDevice.Valid()`: id set. */
export function validateRng(dev: RngDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  id('rng.id', dev.id);
  optId('rng.deviceId', dev.deviceId);
  if (dev.filename !== undefined) absPath('rng.filename', dev.filename);
  optInt('rng.maxBytes', dev.maxBytes, 1, Number.MAX_SAFE_INTEGER);
  optInt('rng.period', dev.period, 1, 0xffff_ffff);
  validateVirtio('rng', dev, ctx);
}

/** govmm `BalloonDevice.Valid()`: id set. */
export function validateBalloon(dev: BalloonDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  id('balloon.id', dev.id);
  optBool('balloon.deflateOnOOM', dev.deflateOnOOM);
  optBool('balloon.freePageReporting', dev.freePageReporting);
  validateVirtio('balloon', dev, ctx);
}

/** govmm `IommuDev.Valid()` (always true there); vmactor: intel-iommu needs amd64 q35. */
export function validateIommu(dev: IommuDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  if (ctx.arch !== 'amd64' || !isQ35(ctx.machineType)) {
    fail('ctx.machineType', 'q35 on amd64 (intel-iommu)', `${ctx.arch}/${ctx.machineType}`);
  }
  optBool('iommu.intremap', dev.intremap);
  optBool('iommu.deviceIotlb', dev.deviceIotlb);
  optBool('iommu.cachingMode', dev.cachingMode);
}

/** govmm `LoaderDevice.Valid()`: file and id set. */
export function validateLoader(dev: LoaderDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  id('loader.id', dev.id);
  absPath('loader.file', dev.file);
}

/** govmm `PVPanicDevice.Valid()` (always true there); vmactor: no pvpanic on s390x. */
export function validatePvpanic(dev: PvpanicDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  if (ctx.arch === 's390x') fail('ctx.arch', 'an arch with pvpanic (not s390x)', ctx.arch);
  optBool('pvpanic.noShutdown', dev.noShutdown);
}

/**
 * Validates any device descriptor; throws `QemuDeviceError` (`ERR_QEMU_DEVICE_INVALID`) naming
 * the first offending field.
 *
 * @example
 * validateDevice({ type: 'vsock', id: 'vs0', contextId: 2 }, { arch: 'amd64', machineType: 'q35' })
 * // throws QemuDeviceError: Expected `vsock.contextId` to be an integer in 3..4294967294, got `2`
 */
export function validateDevice(dev: QemuDevice, ctx: DeviceContext): void {
  if (typeof dev !== 'object' || dev === null) fail('device', 'a device descriptor object', dev);
  switch (dev.type) {
    case 'block':
      validateBlock(dev, ctx);
      break;
    case 'nvdimm':
      validateNvdimm(dev, ctx);
      break;
    case 'fs':
      validateFs(dev, ctx);
      break;
    case 'char':
      validateChar(dev, ctx);
      break;
    case 'serial':
      validateSerial(dev, ctx);
      break;
    case 'net':
      validateNet(dev, ctx);
      break;
    case 'vhost-user':
      validateVhostUser(dev, ctx);
      break;
    case 'vfio':
      validateVfio(dev, ctx);
      break;
    case 'scsi-controller':
      validateScsiController(dev, ctx);
      break;
    case 'bridge':
      validateBridge(dev, ctx);
      break;
    case 'pcie-root-port':
      validatePcieRootPort(dev, ctx);
      break;
    case 'vsock':
      validateVsock(dev, ctx);
      break;
    case 'rng':
      validateRng(dev, ctx);
      break;
    case 'balloon':
      validateBalloon(dev, ctx);
      break;
    case 'iommu':
      validateIommu(dev, ctx);
      break;
    case 'loader':
      validateLoader(dev, ctx);
      break;
    case 'pvpanic':
      validatePvpanic(dev, ctx);
      break;
    default:
      fail('device.type', 'a known device type', (dev as { type?: unknown }).type);
  }
}
