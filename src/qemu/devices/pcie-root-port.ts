// PCIe root ports (govmm `PCIeRootPortDevice`): hotplug points on q35 / arm64 virt.
import { type DeviceAddArgs, type QemuObjects, sizeBytes } from './objects.js';
import { pciAddr } from './transport.js';
import type { DeviceContext, PcieRootPortDevice } from './types.js';
import { validatePcieRootPort } from './validate-pci.js';

/**
 * `device_add pcie-root-port,id=...,bus=pcie.0,chassis=N,slot=N[,multifunction][,addr][,*-reserve]`
 * with govmm's defaults (bus `pcie.0`, chassis 0, slot 0); reserves in bytes (JSON sizes are numbers).
 *
 * @example
 * pcieRootPortObjects({ type: 'pcie-root-port', id: 'rp0', chassis: 1, slot: 1 }, { arch: 'amd64', machineType: 'q35' })
 * // => { device: { driver: 'pcie-root-port', id: 'rp0', bus: 'pcie.0', chassis: 1, slot: 1 } }
 */
export function pcieRootPortObjects(dev: PcieRootPortDevice, ctx: DeviceContext): QemuObjects {
  validatePcieRootPort(dev, ctx);
  const device: DeviceAddArgs = {
    driver: 'pcie-root-port',
    id: dev.id,
    bus: dev.bus ?? 'pcie.0',
    chassis: dev.chassis ?? 0,
    slot: dev.slot ?? 0,
  };
  if (dev.multifunction) device.multifunction = true;
  if (dev.addr !== undefined) device.addr = pciAddr(dev.addr);
  if (dev.busReserve !== undefined) device['bus-reserve'] = dev.busReserve;
  if (dev.pref64Reserve !== undefined) device['pref64-reserve'] = sizeBytes(dev.pref64Reserve);
  if (dev.pref32Reserve !== undefined) device['pref32-reserve'] = sizeBytes(dev.pref32Reserve);
  if (dev.memReserve !== undefined) device['mem-reserve'] = sizeBytes(dev.memReserve);
  if (dev.ioReserve !== undefined) device['io-reserve'] = sizeBytes(dev.ioReserve);
  if (dev.romfile !== undefined) device.romfile = dev.romfile;
  return { device };
}
