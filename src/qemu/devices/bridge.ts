// PCI-PCI and PCIe-PCI bridges (govmm `BridgeDevice`), the hotplug slots of Kata's bridge allocator.
import { type DeviceAddArgs, type QemuObjects, sizeBytes } from './objects.js';
import type { BridgeDevice, DeviceContext } from './types.js';
import { validateBridge } from './validate-pci.js';

/**
 * `device_add pci-bridge,bus=...,id=...,chassis_nr=N,shpc=on|off[,addr=<hex>]` or
 * `pcie-pci-bridge,bus=...,id=...[,addr=<hex>]`. `addr` is given in decimal (Kata's
 * `bridgePCIStartAddr + idx`) and emitted in hex, as govmm does; reserve hints in bytes (JSON
 * sizes are numbers).
 *
 * @example
 * bridgeObjects({ type: 'bridge', bridgeType: 'pci', bus: 'pci.0', id: 'pci-bridge-0', chassis: 1, shpc: true, addr: '2' },
 *   { arch: 'amd64', machineType: 'pc' })
 * // => { device: { driver: 'pci-bridge', bus: 'pci.0', id: 'pci-bridge-0', chassis_nr: 1, shpc: true, addr: '2' } }
 */
export function bridgeObjects(dev: BridgeDevice, ctx: DeviceContext): QemuObjects {
  validateBridge(dev, ctx);
  const device: DeviceAddArgs =
    dev.bridgeType === 'pcie'
      ? { driver: 'pcie-pci-bridge', bus: dev.bus, id: dev.id }
      : { driver: 'pci-bridge', bus: dev.bus, id: dev.id, chassis_nr: dev.chassis, shpc: dev.shpc };
  if (dev.addr !== undefined) device.addr = Number.parseInt(dev.addr, 10).toString(16);
  if (dev.romfile !== undefined) device.romfile = dev.romfile;
  if (dev.ioReserve !== undefined) device['io-reserve'] = sizeBytes(dev.ioReserve);
  if (dev.memReserve !== undefined) device['mem-reserve'] = sizeBytes(dev.memReserve);
  if (dev.pref64Reserve !== undefined) device['pref64-reserve'] = sizeBytes(dev.pref64Reserve);
  return { device };
}
