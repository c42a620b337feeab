// Device argv builders: one pure function per device family, and `deviceArgs` dispatching on `type`.
//
// Where QEMU 7.2 differs from govmm's era, the builders emit what 7.2 accepts (each module says why):
// - chardev sockets: `server=on,wait=off` (not `server,nowait`); vhost-user netdev `vhostforce=on`.
// - disks stay `-drive ...,if=none` (govmm; 7.2 accepts it); cache as `cache.direct`/`cache.no-flush`.
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
import { balloonArgs } from './balloon.js';
import { blockArgs, nvdimmArgs } from './block.js';
import { bridgeArgs } from './bridge.js';
import { charArgs, serialArgs } from './char.js';
import { fsArgs } from './fs.js';
import { iommuArgs } from './iommu.js';
import { loaderArgs } from './loader.js';
import { netArgs } from './net.js';
import { pcieRootPortArgs } from './pcie-root-port.js';
import { pvpanicArgs } from './pvpanic.js';
import { rngArgs } from './rng.js';
import { scsiControllerArgs } from './scsi.js';
import type { DeviceContext, QemuDevice } from './types.js';
import { validateDevice } from './validate.js';
import { vfioArgs } from './vfio.js';
import { vhostUserArgs } from './vhost-user.js';
import { vsockArgs } from './vsock.js';

export { balloonArgs } from './balloon.js';
export { blockArgs, nvdimmArgs } from './block.js';
export { bridgeArgs } from './bridge.js';
export { charArgs, chardevOptions, serialArgs } from './char.js';
export { QemuDeviceError } from './errors.js';
export { fsArgs } from './fs.js';
export { iommuArgs } from './iommu.js';
export { loaderArgs } from './loader.js';
export { mqParts, netArgs, netQueues } from './net.js';
export { pcieRootPortArgs } from './pcie-root-port.js';
export { pvpanicArgs } from './pvpanic.js';
export type { QemuErrorLine, QemuRefusal, RefusalHints } from './refusal.js';
export {
  classifyQemuStartError,
  parseQemuErrorLines,
  QemuHugepagesUnavailableError,
  QemuRefusedError,
  QemuVfioUnavailableError,
  QemuVhostNetUnavailableError,
  QemuVhostVsockUnavailableError,
} from './refusal.js';
export { rngArgs } from './rng.js';
export { scsiControllerArgs } from './scsi.js';
export {
  defaultTransport,
  isVirtioCCW,
  isVirtioPCI,
  resolveTransport,
  virtioDriver,
} from './transport.js';
export type * from './types.js';
export { MAX_SOCKET_PATH_BYTES, QEMU_ID_RE, validateDevice } from './validate.js';
export { vfioArgs, vfioDriver } from './vfio.js';
export { vhostUserArgs } from './vhost-user.js';
export { MAX_GUEST_CID, MIN_GUEST_CID, vsockArgs } from './vsock.js';

/**
 * The argv fragment of one device, in govmm's order (e.g. `-device ... -drive ...`); validates
 * first and throws `QemuDeviceError` (`ERR_QEMU_DEVICE_INVALID`) before producing anything.
 * Every value goes through `formatOptions` (commas doubled), so paths and tags with `,`, `=`,
 * spaces or quotes reach QEMU intact.
 *
 * @example
 * deviceArgs({ type: 'rng', id: 'rng0', filename: '/dev/urandom' }, { arch: 's390x', machineType: 's390-ccw-virtio' })
 * // => ['-object', 'rng-random,id=rng0,filename=/dev/urandom', '-device', 'virtio-rng-ccw,rng=rng0']
 */
export function deviceArgs(device: QemuDevice, ctx: DeviceContext): string[] {
  validateDevice(device, ctx);
  switch (device.type) {
    case 'block':
      return blockArgs(device, ctx);
    case 'nvdimm':
      return nvdimmArgs(device, ctx);
    case 'fs':
      return fsArgs(device, ctx);
    case 'char':
      return charArgs(device, ctx);
    case 'serial':
      return serialArgs(device, ctx);
    case 'net':
      return netArgs(device, ctx);
    case 'vhost-user':
      return vhostUserArgs(device, ctx);
    case 'vfio':
      return vfioArgs(device, ctx);
    case 'scsi-controller':
      return scsiControllerArgs(device, ctx);
    case 'bridge':
      return bridgeArgs(device, ctx);
    case 'pcie-root-port':
      return pcieRootPortArgs(device, ctx);
    case 'vsock':
      return vsockArgs(device, ctx);
    case 'rng':
      return rngArgs(device, ctx);
    case 'balloon':
      return balloonArgs(device, ctx);
    case 'iommu':
      return iommuArgs(device, ctx);
    case 'loader':
      return loaderArgs(device, ctx);
    case 'pvpanic':
      return pvpanicArgs(device, ctx);
  }
}

/** The argv of several devices, concatenated in order. */
export function devicesArgs(devices: readonly QemuDevice[], ctx: DeviceContext): string[] {
  return devices.flatMap((d) => deviceArgs(d, ctx));
}
