// 9p shares: `-fsdev local,...` plus `-device virtio-9p-*` (govmm `FSDevice`).
import { formatOptions, type OptionPart } from '../escape.js';
import { modernParts, resolveTransport, transportParts, virtioDriver } from './transport.js';
import type { DeviceContext, FsDevice } from './types.js';
import { validateFs } from './validate.js';

/**
 * `-device virtio-9p-<transport>,fsdev=<id>,mount_tag=<tag> -fsdev local,id=<id>,path=...,security_model=...`
 * in govmm's order. The device also gets `id=<id>` (fsdevs and qdevs are separate namespaces) so
 * QMP finds it under /machine/peripheral.
 *
 * @example
 * fsArgs({ type: 'fs', fsType: 'virtio-9p', id: 'fs0', path: '/srv', mountTag: 'share', securityModel: 'none' },
 *   { arch: 'amd64', machineType: 'q35' })
 * // => ['-device', 'virtio-9p-pci,fsdev=fs0,mount_tag=share,id=fs0',
 * //     '-fsdev', 'local,id=fs0,path=/srv,security_model=none']
 */
export function fsArgs(dev: FsDevice, ctx: DeviceContext): string[] {
  validateFs(dev, ctx);
  const device: OptionPart[] = [
    virtioDriver('virtio-9p', resolveTransport(dev, ctx)),
    ...modernParts(dev, ctx),
    ['fsdev', dev.id],
    ['mount_tag', dev.mountTag],
    ['id', dev.id],
    ...transportParts(dev, ctx),
  ];
  const fsdev: OptionPart[] = [
    dev.fsDriver ?? 'local',
    ['id', dev.id],
    ['path', dev.path],
    ['security_model', dev.securityModel],
  ];
  if (dev.multidev !== undefined) fsdev.push(['multidevs', dev.multidev]);
  return ['-device', formatOptions(device), '-fsdev', formatOptions(fsdev)];
}
