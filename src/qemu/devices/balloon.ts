// virtio-balloon (govmm `BalloonDevice`).
import { formatOptions, type OptionPart } from '../escape.js';
import { modernParts, resolveTransport, transportParts, virtioDriver } from './transport.js';
import type { BalloonDevice, DeviceContext } from './types.js';
import { validateBalloon } from './validate.js';

/**
 * `-device virtio-balloon-<transport>,id=...,deflate-on-oom=on|off,free-page-reporting=on|off`.
 *
 * @example
 * balloonArgs({ type: 'balloon', id: 'balloon0', deflateOnOOM: true }, { arch: 'amd64', machineType: 'q35' })
 * // => ['-device', 'virtio-balloon-pci,id=balloon0,deflate-on-oom=on,free-page-reporting=off']
 */
export function balloonArgs(dev: BalloonDevice, ctx: DeviceContext): string[] {
  validateBalloon(dev, ctx);
  const device: OptionPart[] = [
    virtioDriver('virtio-balloon', resolveTransport(dev, ctx)),
    ['id', dev.id],
    ...transportParts(dev, ctx),
    ['deflate-on-oom', dev.deflateOnOOM ?? false],
    ['free-page-reporting', dev.freePageReporting ?? false],
    ...modernParts(dev, ctx),
  ];
  return ['-device', formatOptions(device)];
}
