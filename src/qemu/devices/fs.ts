// 9p shares: `-fsdev local,...` (command line only: QEMU has no QMP fsdev-add) plus virtio-9p (govmm `FSDevice`).
import { formatOptions, type OptionPart } from '../escape.js';
import type { QemuObjects } from './objects.js';
import { modernProps, resolveTransport, transportProps, virtioDriver } from './transport.js';
import type { DeviceContext, FsDevice } from './types.js';
import { validateFs } from './validate-char.js';

/**
 * `-fsdev local,id=<id>,path=...,security_model=...` (key=value: `-fsdev` has no JSON form in 7.2,
 * and no QMP command, so 9p shares are cold-plug only) and `device_add virtio-9p-<transport>`. The
 * device also gets `id=<id>` (fsdevs and qdevs are separate namespaces) so QMP finds it.
 *
 * @example
 * fsObjects({ type: 'fs', fsType: 'virtio-9p', id: 'fs0', path: '/srv', mountTag: 'share', securityModel: 'none' },
 *   { arch: 'amd64', machineType: 'q35' })
 * // => { argv: ['-fsdev', 'local,id=fs0,path=/srv,security_model=none'],
 * //      device: { driver: 'virtio-9p-pci', fsdev: 'fs0', mount_tag: 'share', id: 'fs0' } }
 */
export function fsObjects(dev: FsDevice, ctx: DeviceContext): QemuObjects {
  validateFs(dev, ctx);
  const fsdev: OptionPart[] = [
    dev.fsDriver ?? 'local',
    ['id', dev.id],
    ['path', dev.path],
    ['security_model', dev.securityModel],
  ];
  if (dev.multidev !== undefined) fsdev.push(['multidevs', dev.multidev]);
  return {
    argv: ['-fsdev', formatOptions(fsdev)],
    device: {
      driver: virtioDriver('virtio-9p', resolveTransport(dev, ctx)),
      ...modernProps(dev, ctx),
      fsdev: dev.id,
      mount_tag: dev.mountTag,
      id: dev.id,
      ...transportProps(dev, ctx),
    },
  };
}
