// The generic loader device (govmm `LoaderDevice`): a firmware/data blob placed in guest memory at boot.
import type { QemuObjects } from './objects.js';
import type { DeviceContext, LoaderDevice } from './types.js';
import { validateLoader } from './validate-misc.js';

/**
 * `device_add loader,file=...,id=...`.
 *
 * @example
 * loaderObjects({ type: 'loader', id: 'fw0', file: '/usr/share/fw.bin' }, { arch: 'arm64', machineType: 'virt' })
 * // => { device: { driver: 'loader', file: '/usr/share/fw.bin', id: 'fw0' } }
 */
export function loaderObjects(dev: LoaderDevice, ctx: DeviceContext): QemuObjects {
  validateLoader(dev, ctx);
  return { device: { driver: 'loader', file: dev.file, id: dev.id } };
}
