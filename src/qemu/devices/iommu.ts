// The Intel vIOMMU (govmm `IommuDev`), amd64 q35 only.
import type { QemuObjects } from './objects.js';
import type { DeviceContext, IommuDevice } from './types.js';
import { validateIommu } from './validate-pci.js';

/**
 * `device_add intel-iommu,intremap=on|off,device-iotlb=..,caching-mode=..`. `intremap` is an
 * OnOffAuto property (a string `on`/`off` in JSON), the others booleans. With KVM,
 * `intremap=on` needs `-machine kernel-irqchip=split` (the plan's job); caching-mode is what VFIO
 * behind the vIOMMU needs. Put it before the other PCI devices (devices realized before it are
 * not behind it).
 *
 * @example
 * iommuObjects({ type: 'iommu', intremap: true, cachingMode: true }, { arch: 'amd64', machineType: 'q35' })
 * // => { device: { driver: 'intel-iommu', intremap: 'on', 'device-iotlb': false, 'caching-mode': true } }
 */
export function iommuObjects(dev: IommuDevice, ctx: DeviceContext): QemuObjects {
  validateIommu(dev, ctx);
  return {
    device: {
      driver: 'intel-iommu',
      intremap: dev.intremap ? 'on' : 'off',
      'device-iotlb': dev.deviceIotlb ?? false,
      'caching-mode': dev.cachingMode ?? false,
    },
  };
}
