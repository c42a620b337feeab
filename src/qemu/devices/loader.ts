// The generic loader device (govmm `LoaderDevice`): a firmware/data blob placed in guest memory at boot.
import { formatOptions } from '../escape.js';
import type { DeviceContext, LoaderDevice } from './types.js';
import { validateLoader } from './validate.js';

/**
 * `-device loader,file=...,id=...`.
 *
 * @example
 * loaderArgs({ type: 'loader', id: 'fw0', file: '/usr/share/fw.bin' }, { arch: 'arm64', machineType: 'virt' })
 * // => ['-device', 'loader,file=/usr/share/fw.bin,id=fw0']
 */
export function loaderArgs(dev: LoaderDevice, ctx: DeviceContext): string[] {
  validateLoader(dev, ctx);
  return ['-device', formatOptions(['loader', ['file', dev.file], ['id', dev.id]])];
}
