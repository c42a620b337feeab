// The Intel vIOMMU (govmm `IommuDev`), amd64 q35 only.
import { formatOptions } from '../escape.js';
import type { DeviceContext, IommuDevice } from './types.js';
import { validateIommu } from './validate.js';

/**
 * `-device intel-iommu,intremap=on|off,device-iotlb=on|off,caching-mode=on|off`. With KVM,
 * `intremap=on` needs `-machine kernel-irqchip=split` (the plan's job); caching-mode is what VFIO
 * behind the vIOMMU needs. Put it before the other PCI devices (QEMU 7.2 accepts it later, but
 * devices realized before it are not behind it).
 *
 * @example
 * iommuArgs({ type: 'iommu', intremap: true, cachingMode: true }, { arch: 'amd64', machineType: 'q35' })
 * // => ['-device', 'intel-iommu,intremap=on,device-iotlb=off,caching-mode=on']
 */
export function iommuArgs(dev: IommuDevice, ctx: DeviceContext): string[] {
  validateIommu(dev, ctx);
  return [
    '-device',
    formatOptions([
      'intel-iommu',
      ['intremap', dev.intremap ?? false],
      ['device-iotlb', dev.deviceIotlb ?? false],
      ['caching-mode', dev.cachingMode ?? false],
    ]),
  ];
}
