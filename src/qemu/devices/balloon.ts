// virtio-balloon (govmm `BalloonDevice`).
import type { QemuObjects } from './objects.js';
import { modernProps, resolveTransport, transportProps, virtioDriver } from './transport.js';
import type { BalloonDevice, DeviceContext } from './types.js';
import { validateBalloon } from './validate-misc.js';

/**
 * `device_add virtio-balloon-<transport>,id=...,deflate-on-oom=..,free-page-reporting=..`.
 *
 * @example
 * balloonObjects({ type: 'balloon', id: 'balloon0', deflateOnOOM: true }, { arch: 'amd64', machineType: 'q35' })
 * // => { device: { driver: 'virtio-balloon-pci', id: 'balloon0', 'deflate-on-oom': true, 'free-page-reporting': false } }
 */
export function balloonObjects(dev: BalloonDevice, ctx: DeviceContext): QemuObjects {
  validateBalloon(dev, ctx);
  return {
    device: {
      driver: virtioDriver('virtio-balloon', resolveTransport(dev, ctx)),
      id: dev.id,
      ...transportProps(dev, ctx),
      'deflate-on-oom': dev.deflateOnOOM ?? false,
      'free-page-reporting': dev.freePageReporting ?? false,
      ...modernProps(dev, ctx),
    },
  };
}
