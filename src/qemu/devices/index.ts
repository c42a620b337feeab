// Device builders: one pure function per device family (spec + placement → QMP objects), and
// `buildQemuObjects` dispatching on `type`; `deviceArgs` is their command-line form.
//
// Where QEMU 7.2 differs from govmm's era, the builders emit what 7.2 accepts (each module says why):
// - `-device`, `-blockdev`, `-object`, `-netdev` in JSON, with exactly `device_add`'s (etc.)
//   structure; `-chardev` and `-fsdev` stay key=value (7.2 has no JSON form of them).
// - disks are `-blockdev` nodes `drive-<id>` (hot plug's name), not govmm's `-drive ...,if=none`.
// - chardev sockets: `server=on,wait=off` (not `server,nowait`); vhost-user netdev `vhostforce`.
// - devices get `id=` where govmm left them anonymous (virtio-blk, 9p, vhost-user-fs/blk), so QMP
//   finds them under /machine/peripheral and can unplug them.
// - vhost-user-blk: no `logical_block_size=4096,size=512M` (not 7.2 properties of the front-end).
// - vhost-user-fs: no `cache-size` (DAX never merged upstream): a non-zero `cacheSize` is refused.
// - `iommu_platform=on` on PCI comes with `disable-legacy=on` (7.2 refuses it on transitional
//   devices), and is refused together with `disableModern`.
// - tap without fds: `script=no,downscript=no` (govmm omits them; QEMU would run /etc/qemu-ifup).
// - multiqueue `mq=on[,vectors=2N+2]` only for more than one queue (govmm: whenever fds are passed).
// - pvpanic is `pvpanic-pci` off amd64 (no ISA bus on arm64 virt / ppc64le pseries).
// - vhost-vsock guest CIDs stop at 0xfffffffe (the kernel refuses VMADDR_CID_ANY).
import { balloonObjects } from './balloon.js';
import { blockObjects, nvdimmObjects } from './block.js';
import { bridgeObjects } from './bridge.js';
import { charObjects, serialObjects } from './char.js';
import { fsObjects } from './fs.js';
import { iommuObjects } from './iommu.js';
import { loaderObjects } from './loader.js';
import { netObjects } from './net.js';
import { objectsToArgv, type QemuObjects } from './objects.js';
import { pcieRootPortObjects } from './pcie-root-port.js';
import { pvpanicObjects } from './pvpanic.js';
import { rngObjects } from './rng.js';
import { scsiControllerObjects } from './scsi.js';
import type { DeviceContext, QemuDevice } from './types.js';
import { validateDevice } from './validate.js';
import { vfioObjects } from './vfio.js';
import { vhostUserObjects } from './vhost-user.js';
import { vsockObjects } from './vsock.js';

export { balloonObjects } from './balloon.js';
export { blockdevOf, blockObjects, nvdimmObjects, VIRTIO_BLK_SERIAL_MAX } from './block.js';
export { bridgeObjects } from './bridge.js';
export { chardevOf, charObjects, serialObjects } from './char.js';
export { QemuDeviceError } from './errors.js';
export { fsObjects } from './fs.js';
export { iommuObjects } from './iommu.js';
export { loaderObjects } from './loader.js';
export { blockNodeName, chardevId, netdevId, nvdimmBackendId, tapFdName, vhostFdName } from './names.js';
export { mqProps, netObjects, netQueues } from './net.js';
export type {
  BlockdevAddArgs,
  ChardevArgs,
  ChardevBackendArgs,
  DeviceAddArgs,
  DeviceFd,
  FdPurpose,
  HotplugCommand,
  NetdevAddArgs,
  ObjectAddArgs,
  QemuObjects,
} from './objects.js';
export { chardevOptions, hotplugCommands, jsonOption, objectsToArgv, sizeBytes } from './objects.js';
export { pcieRootPortObjects } from './pcie-root-port.js';
export { pvpanicObjects } from './pvpanic.js';
export type { QemuErrorLine, QemuRefusal, RefusalHints } from './refusal.js';
export {
  classifyQemuStartError,
  parseQemuErrorLines,
  QemuHugepagesUnavailableError,
  QemuKvmUnavailableError,
  QemuRefusedError,
  QemuVfioUnavailableError,
  QemuVhostNetUnavailableError,
  QemuVhostVsockUnavailableError,
} from './refusal.js';
export { rngObjects } from './rng.js';
export { scsiControllerObjects } from './scsi.js';
export {
  defaultTransport,
  isVirtioCCW,
  isVirtioPCI,
  resolveTransport,
  virtioDriver,
} from './transport.js';
export type * from './types.js';
export { validateDevice } from './validate.js';
export { vfioDriver, vfioObjects } from './vfio.js';
export { vhostUserChardev, vhostUserObjects } from './vhost-user.js';
export { vsockObjects } from './vsock.js';

/**
 * The QMP objects of one device (chardevs, objects, block nodes, netdevs, the device, fds); validates
 * first and throws `QemuDeviceError` (`ERR_QEMU_DEVICE_INVALID`) before producing anything. Cold
 * plug puts them on the command line ({@link objectsToArgv}); hot plug sends them
 * (`hotplugCommands`).
 *
 * @example
 * buildQemuObjects({ type: 'rng', id: 'rng0', filename: '/dev/urandom' }, { arch: 's390x', machineType: 's390-ccw-virtio' })
 * // => { objects: [{ 'qom-type': 'rng-random', id: 'rng0', filename: '/dev/urandom' }], device: { driver: 'virtio-rng-ccw', rng: 'rng0' } }
 */
export function buildQemuObjects(device: QemuDevice, ctx: DeviceContext): QemuObjects {
  validateDevice(device, ctx);
  switch (device.type) {
    case 'block':
      return blockObjects(device, ctx);
    case 'nvdimm':
      return nvdimmObjects(device, ctx);
    case 'fs':
      return fsObjects(device, ctx);
    case 'char':
      return charObjects(device, ctx);
    case 'serial':
      return serialObjects(device, ctx);
    case 'net':
      return netObjects(device, ctx);
    case 'vhost-user':
      return vhostUserObjects(device, ctx);
    case 'vfio':
      return vfioObjects(device, ctx);
    case 'scsi-controller':
      return scsiControllerObjects(device, ctx);
    case 'bridge':
      return bridgeObjects(device, ctx);
    case 'pcie-root-port':
      return pcieRootPortObjects(device, ctx);
    case 'vsock':
      return vsockObjects(device, ctx);
    case 'rng':
      return rngObjects(device, ctx);
    case 'balloon':
      return balloonObjects(device, ctx);
    case 'iommu':
      return iommuObjects(device, ctx);
    case 'loader':
      return loaderObjects(device, ctx);
    case 'pvpanic':
      return pvpanicObjects(device, ctx);
  }
}

/**
 * The command-line fragment of one device: its {@link buildQemuObjects} in JSON form where QEMU 7.2
 * takes it (see `objectsToArgv`).
 *
 * @example
 * deviceArgs({ type: 'rng', id: 'rng0', filename: '/dev/urandom' }, { arch: 'amd64', machineType: 'q35' })
 * // => ['-object', '{"qom-type":"rng-random","id":"rng0","filename":"/dev/urandom"}',
 * //     '-device', '{"driver":"virtio-rng-pci","rng":"rng0"}']
 */
export function deviceArgs(device: QemuDevice, ctx: DeviceContext): string[] {
  return objectsToArgv(buildQemuObjects(device, ctx));
}

/** The argv of several devices, concatenated in order. */
export function devicesArgs(devices: readonly QemuDevice[], ctx: DeviceContext): string[] {
  return devices.flatMap((d) => deviceArgs(d, ctx));
}
