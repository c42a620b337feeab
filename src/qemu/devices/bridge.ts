// PCI-PCI and PCIe-PCI bridges (govmm `BridgeDevice`), the hotplug slots of Kata's bridge allocator.
import { formatOptions, type OptionPart } from '../escape.js';
import type { BridgeDevice, DeviceContext } from './types.js';
import { validateBridge } from './validate.js';

/**
 * `-device pci-bridge,bus=...,id=...,chassis_nr=N,shpc=on|off[,addr=<hex>]` or
 * `-device pcie-pci-bridge,bus=...,id=...[,addr=<hex>]`. `addr` is given in decimal (Kata's
 * `bridgePCIStartAddr + idx`) and emitted in hex, as govmm does.
 *
 * @example
 * bridgeArgs({ type: 'bridge', bridgeType: 'pci', bus: 'pci.0', id: 'pci-bridge-0', chassis: 1, shpc: true, addr: '2' },
 *   { arch: 'amd64', machineType: 'pc' })
 * // => ['-device', 'pci-bridge,bus=pci.0,id=pci-bridge-0,chassis_nr=1,shpc=on,addr=2']
 */
export function bridgeArgs(dev: BridgeDevice, ctx: DeviceContext): string[] {
  validateBridge(dev, ctx);
  const device: OptionPart[] =
    dev.bridgeType === 'pcie'
      ? ['pcie-pci-bridge', ['bus', dev.bus], ['id', dev.id]]
      : ['pci-bridge', ['bus', dev.bus], ['id', dev.id], ['chassis_nr', dev.chassis], ['shpc', dev.shpc]];
  if (dev.addr !== undefined) device.push(['addr', Number.parseInt(dev.addr, 10).toString(16)]);
  if (dev.romfile !== undefined) device.push(['romfile', dev.romfile]);
  if (dev.ioReserve !== undefined) device.push(['io-reserve', dev.ioReserve]);
  if (dev.memReserve !== undefined) device.push(['mem-reserve', dev.memReserve]);
  if (dev.pref64Reserve !== undefined) device.push(['pref64-reserve', dev.pref64Reserve]);
  return ['-device', formatOptions(device)];
}
