// VFIO passthrough (govmm `VFIODevice`): a host PCI function by BDF, or a mediated device by sysfs path.
import type { DeviceAddArgs, QemuObjects } from './objects.js';
import { pciAddr, resolveTransport } from './transport.js';
import type { DeviceContext, VfioDevice } from './types.js';
import { validateVfio } from './validate-pci.js';

/** The vfio driver: explicit, else `vfio-ccw` on the channel subsystem, else `vfio-pci`. */
export function vfioDriver(dev: VfioDevice, ctx: DeviceContext): NonNullable<VfioDevice['driver']> {
  if (dev.driver !== undefined) return dev.driver;
  return resolveTransport(dev, ctx) === 'ccw' ? 'vfio-ccw' : 'vfio-pci';
}

/**
 * `device_add vfio-pci,host=<bdf>` or `sysfsdev=<path>` (mediated), with optional id overrides
 * (`x-pci-vendor-id`/`x-pci-device-id` are uint32 properties: numbers in JSON), bus/addr,
 * romfile (PCI) or devno (CCW).
 *
 * @example
 * vfioObjects({ type: 'vfio', bdf: '0000:01:00.0', bus: 'rp0' }, { arch: 'amd64', machineType: 'q35' })
 * // => { device: { driver: 'vfio-pci', host: '0000:01:00.0', bus: 'rp0' } }
 */
export function vfioObjects(dev: VfioDevice, ctx: DeviceContext): QemuObjects {
  validateVfio(dev, ctx);
  const driver = vfioDriver(dev, ctx);
  const device: DeviceAddArgs = { driver };
  if (dev.sysfsDev !== undefined) device.sysfsdev = dev.sysfsDev;
  else device.host = dev.bdf!;
  if (dev.id !== undefined) device.id = dev.id;
  if (dev.vendorId !== undefined && dev.deviceId !== undefined) {
    device['x-pci-vendor-id'] = Number(dev.vendorId);
    device['x-pci-device-id'] = Number(dev.deviceId);
  }
  if (dev.bus !== undefined) device.bus = dev.bus;
  if (dev.addr !== undefined) device.addr = pciAddr(dev.addr);
  if (driver === 'vfio-pci' && dev.romfile !== undefined) device.romfile = dev.romfile;
  if (driver === 'vfio-ccw' && dev.devno !== undefined) device.devno = dev.devno;
  return { device };
}
