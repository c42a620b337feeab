// virtio-rng (govmm `RngDevice`): an `rng-random` object on a host entropy file plus the device.
import type { QemuObjects } from './objects.js';
import { resolveTransport, transportProps, virtioDriver } from './transport.js';
import type { DeviceContext, RngDevice } from './types.js';
import { validateRng } from './validate-misc.js';

/**
 * `object-add rng-random,id=...,filename=...` + `device_add virtio-rng-<transport>,rng=...[,max-bytes,period]`.
 *
 * @example
 * rngObjects({ type: 'rng', id: 'rng0', filename: '/dev/urandom' }, { arch: 'amd64', machineType: 'q35' })
 * // => { objects: [{ 'qom-type': 'rng-random', id: 'rng0', filename: '/dev/urandom' }], device: { driver: 'virtio-rng-pci', rng: 'rng0' } }
 */
export function rngObjects(dev: RngDevice, ctx: DeviceContext): QemuObjects {
  validateRng(dev, ctx);
  return {
    objects: [{ 'qom-type': 'rng-random', id: dev.id, filename: dev.filename ?? '/dev/urandom' }],
    device: {
      driver: virtioDriver('virtio-rng', resolveTransport(dev, ctx)),
      rng: dev.id,
      ...(dev.deviceId !== undefined ? { id: dev.deviceId } : {}),
      ...transportProps(dev, ctx),
      ...(dev.maxBytes !== undefined ? { 'max-bytes': dev.maxBytes } : {}),
      ...(dev.period !== undefined ? { period: dev.period } : {}),
    },
  };
}
