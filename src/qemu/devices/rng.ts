// virtio-rng (govmm `RngDevice`): an `rng-random` object on a host entropy file plus the device.
import { formatOptions, type OptionPart } from '../escape.js';
import { resolveTransport, transportParts, virtioDriver } from './transport.js';
import type { DeviceContext, RngDevice } from './types.js';
import { validateRng } from './validate.js';

/**
 * `-object rng-random,id=...,filename=... -device virtio-rng-<transport>,rng=...[,max-bytes=,period=]`.
 *
 * @example
 * rngArgs({ type: 'rng', id: 'rng0', filename: '/dev/urandom' }, { arch: 'amd64', machineType: 'q35' })
 * // => ['-object', 'rng-random,id=rng0,filename=/dev/urandom', '-device', 'virtio-rng-pci,rng=rng0']
 */
export function rngArgs(dev: RngDevice, ctx: DeviceContext): string[] {
  validateRng(dev, ctx);
  const object: OptionPart[] = ['rng-random', ['id', dev.id], ['filename', dev.filename ?? '/dev/urandom']];
  const device: OptionPart[] = [virtioDriver('virtio-rng', resolveTransport(dev, ctx)), ['rng', dev.id]];
  if (dev.deviceId !== undefined) device.push(['id', dev.deviceId]);
  device.push(...transportParts(dev, ctx));
  if (dev.maxBytes !== undefined) device.push(['max-bytes', dev.maxBytes]);
  if (dev.period !== undefined) device.push(['period', dev.period]);
  return ['-object', formatOptions(object), '-device', formatOptions(device)];
}
