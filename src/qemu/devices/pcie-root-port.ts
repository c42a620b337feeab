// PCIe root ports (govmm `PCIeRootPortDevice`): hotplug points on q35 / arm64 virt.
import { formatOptions, type OptionPart } from '../escape.js';
import type { DeviceContext, PcieRootPortDevice } from './types.js';
import { validatePcieRootPort } from './validate.js';

/**
 * `-device pcie-root-port,id=...,bus=pcie.0,chassis=N,slot=N[,multifunction=on][,addr=...][,*-reserve=...]`
 * with govmm's defaults (bus `pcie.0`, chassis 0, slot 0).
 *
 * @example
 * pcieRootPortArgs({ type: 'pcie-root-port', id: 'rp0', chassis: 1, slot: 1 }, { arch: 'amd64', machineType: 'q35' })
 * // => ['-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=1']
 */
export function pcieRootPortArgs(dev: PcieRootPortDevice, ctx: DeviceContext): string[] {
  validatePcieRootPort(dev, ctx);
  const device: OptionPart[] = [
    'pcie-root-port',
    ['id', dev.id],
    ['bus', dev.bus ?? 'pcie.0'],
    ['chassis', dev.chassis ?? 0],
    ['slot', dev.slot ?? 0],
  ];
  if (dev.multifunction) device.push(['multifunction', true]);
  if (dev.addr !== undefined) device.push(['addr', dev.addr]);
  if (dev.busReserve !== undefined) device.push(['bus-reserve', dev.busReserve]);
  if (dev.pref64Reserve !== undefined) device.push(['pref64-reserve', dev.pref64Reserve]);
  if (dev.pref32Reserve !== undefined) device.push(['pref32-reserve', dev.pref32Reserve]);
  if (dev.memReserve !== undefined) device.push(['mem-reserve', dev.memReserve]);
  if (dev.ioReserve !== undefined) device.push(['io-reserve', dev.ioReserve]);
  if (dev.romfile !== undefined) device.push(['romfile', dev.romfile]);
  return ['-device', formatOptions(device)];
}
