// Validation of PCI plumbing and passthrough: govmm `VFIODevice` / `BridgeDevice` / `PCIeRootPortDevice` / `IommuDev` `Valid()`.
import { BDF_RE } from '../../devices/rules.js';
import type { BridgeDevice, DeviceContext, IommuDevice, PcieRootPortDevice, VfioDevice } from './types.js';
import {
  absPath,
  fail,
  id,
  int,
  isQ35,
  oneOf,
  optBool,
  optId,
  optInt,
  optSize,
  PCI_ADDR_RE,
  PCI_ID_RE,
  validateContext,
  validateVirtio,
} from './validate-common.js';

/** govmm `VFIODevice.Valid()`: a BDF (or, for mediated devices, a sysfs path); ids paired. */
export function validateVfio(dev: VfioDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  if ((dev.bdf === undefined) === (dev.sysfsDev === undefined)) {
    fail('vfio.bdf', 'exactly one of `bdf` (host device) or `sysfsDev` (mediated device)', dev.bdf);
  }
  if (dev.bdf !== undefined && (typeof dev.bdf !== 'string' || !BDF_RE.test(dev.bdf))) {
    fail('vfio.bdf', 'a PCI address like `0000:01:00.0`', dev.bdf);
  }
  if (dev.sysfsDev !== undefined) absPath('vfio.sysfsDev', dev.sysfsDev);
  optId('vfio.id', dev.id);
  if ((dev.vendorId === undefined) !== (dev.deviceId === undefined)) {
    fail('vfio.deviceId', 'set together with `vendorId` (or both absent)', dev.deviceId);
  }
  if (dev.vendorId !== undefined && (typeof dev.vendorId !== 'string' || !PCI_ID_RE.test(dev.vendorId))) {
    fail('vfio.vendorId', 'a PCI id like `0x10de`', dev.vendorId);
  }
  if (dev.deviceId !== undefined && (typeof dev.deviceId !== 'string' || !PCI_ID_RE.test(dev.deviceId))) {
    fail('vfio.deviceId', 'a PCI id like `0x1eb8`', dev.deviceId);
  }
  if (dev.driver !== undefined) {
    oneOf('vfio.driver', dev.driver, ['vfio-pci', 'vfio-ccw', 'vfio-ap']);
    if (dev.driver !== 'vfio-pci' && ctx.arch !== 's390x')
      fail('vfio.driver', `${dev.driver} only on s390x`, dev.driver);
    if (dev.driver !== 'vfio-pci' && dev.sysfsDev === undefined) {
      fail('vfio.sysfsDev', `the mediated device path for ${dev.driver}`, dev.sysfsDev);
    }
  }
  validateVirtio('vfio', dev, ctx);
}

/** govmm `BridgeDevice.Valid()`: type, bus and id set; Kata's chassis > 0 and a slot below 32. */
export function validateBridge(dev: BridgeDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  if (ctx.arch === 's390x') fail('ctx.arch', 'an arch with PCI bridges (s390x uses CCW)', ctx.arch);
  oneOf('bridge.bridgeType', dev.bridgeType, ['pci', 'pcie']);
  id('bridge.bus', dev.bus);
  id('bridge.id', dev.id);
  if (dev.bridgeType === 'pci') {
    int('bridge.chassis', dev.chassis, 1, 255);
    if (typeof dev.shpc !== 'boolean') fail('bridge.shpc', 'a boolean', dev.shpc);
  }
  if (dev.addr !== undefined) {
    if (typeof dev.addr !== 'string' || !/^\d{1,2}$/.test(dev.addr) || Number(dev.addr) > 31) {
      fail('bridge.addr', 'a decimal slot number 0..31', dev.addr);
    }
  }
  if (dev.romfile !== undefined && (typeof dev.romfile !== 'string' || dev.romfile.includes('\0'))) {
    fail('bridge.romfile', 'a path, or empty to disable the option ROM', dev.romfile);
  }
  const reserves = [dev.ioReserve, dev.memReserve, dev.pref64Reserve];
  if (dev.bridgeType === 'pcie' && reserves.some((r) => r !== undefined)) {
    fail(
      'bridge.memReserve',
      'absent for a pcie-pci-bridge (only pci-bridge takes reserve hints)',
      dev.memReserve,
    );
  }
  optSize('bridge.ioReserve', dev.ioReserve);
  optSize('bridge.memReserve', dev.memReserve);
  optSize('bridge.pref64Reserve', dev.pref64Reserve);
}

/** govmm `PCIeRootPortDevice.Valid()`: id set, pref32/pref64 reserves exclusive; a PCIe machine. */
export function validatePcieRootPort(dev: PcieRootPortDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  if (ctx.arch === 's390x' || (ctx.arch === 'amd64' && !isQ35(ctx.machineType))) {
    fail('ctx.machineType', 'a PCIe machine (q35, arm64 virt, ppc64le pseries)', ctx.machineType);
  }
  id('pcie-root-port.id', dev.id);
  optId('pcie-root-port.bus', dev.bus);
  optInt('pcie-root-port.chassis', dev.chassis, 0, 255);
  optInt('pcie-root-port.slot', dev.slot, 0, 255);
  optBool('pcie-root-port.multifunction', dev.multifunction);
  if (dev.addr !== undefined && (typeof dev.addr !== 'string' || !PCI_ADDR_RE.test(dev.addr))) {
    fail('pcie-root-port.addr', 'a PCI slot[.function] in hex like `1c` or `0x1c.0x1`', dev.addr);
  }
  optInt('pcie-root-port.busReserve', dev.busReserve, 0, 255);
  if (dev.pref32Reserve !== undefined && dev.pref64Reserve !== undefined) {
    fail(
      'pcie-root-port.pref32Reserve',
      'absent when `pref64Reserve` is set (they are exclusive)',
      dev.pref32Reserve,
    );
  }
  optSize('pcie-root-port.ioReserve', dev.ioReserve);
  optSize('pcie-root-port.memReserve', dev.memReserve);
  optSize('pcie-root-port.pref32Reserve', dev.pref32Reserve);
  optSize('pcie-root-port.pref64Reserve', dev.pref64Reserve);
  if (dev.romfile !== undefined && (typeof dev.romfile !== 'string' || dev.romfile.includes('\0'))) {
    fail('pcie-root-port.romfile', 'a path, or empty to disable the option ROM', dev.romfile);
  }
}

/** govmm `IommuDev.Valid()` (always true there); vmactor: intel-iommu needs amd64 q35. */
export function validateIommu(dev: IommuDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  if (ctx.arch !== 'amd64' || !isQ35(ctx.machineType)) {
    fail('ctx.machineType', 'q35 on amd64 (intel-iommu)', `${ctx.arch}/${ctx.machineType}`);
  }
  optBool('iommu.intremap', dev.intremap);
  optBool('iommu.deviceIotlb', dev.deviceIotlb);
  optBool('iommu.cachingMode', dev.cachingMode);
}
