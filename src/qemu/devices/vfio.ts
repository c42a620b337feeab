// VFIO passthrough (govmm `VFIODevice`): a host PCI function by BDF, or a mediated device by sysfs path.
import { formatOptions, type OptionPart } from '../escape.js';
import { resolveTransport } from './transport.js';
import type { DeviceContext, VfioDevice } from './types.js';
import { validateVfio } from './validate.js';

/** The vfio driver: explicit, else `vfio-ccw` on the channel subsystem, else `vfio-pci`. */
export function vfioDriver(dev: VfioDevice, ctx: DeviceContext): NonNullable<VfioDevice['driver']> {
  if (dev.driver !== undefined) return dev.driver;
  return resolveTransport(dev, ctx) === 'ccw' ? 'vfio-ccw' : 'vfio-pci';
}

/**
 * `-device vfio-pci,host=<bdf>` or `-device vfio-pci,sysfsdev=<path>` (mediated), with optional
 * id overrides, bus/addr, romfile (PCI) or devno (CCW).
 *
 * @example
 * vfioArgs({ type: 'vfio', bdf: '0000:01:00.0', bus: 'rp0' }, { arch: 'amd64', machineType: 'q35' })
 * // => ['-device', 'vfio-pci,host=0000:01:00.0,bus=rp0']
 */
export function vfioArgs(dev: VfioDevice, ctx: DeviceContext): string[] {
  validateVfio(dev, ctx);
  const driver = vfioDriver(dev, ctx);
  const device: OptionPart[] = [driver];
  if (dev.sysfsDev !== undefined) device.push(['sysfsdev', dev.sysfsDev]);
  else device.push(['host', dev.bdf!]);
  if (dev.id !== undefined) device.push(['id', dev.id]);
  if (dev.vendorId !== undefined && dev.deviceId !== undefined) {
    device.push(['x-pci-vendor-id', dev.vendorId], ['x-pci-device-id', dev.deviceId]);
  }
  if (dev.bus !== undefined) device.push(['bus', dev.bus]);
  if (dev.addr !== undefined) device.push(['addr', dev.addr]);
  if (driver === 'vfio-pci' && dev.romfile !== undefined) device.push(['romfile', dev.romfile]);
  if (driver === 'vfio-ccw' && dev.devno !== undefined) device.push(['devno', dev.devno]);
  return ['-device', formatOptions(device)];
}
