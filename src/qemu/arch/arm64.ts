// arm64 table: virt (Kata qemu_arm64.go: usb=off, gic-version=host under KVM; max under TCG).
import { genericMemoryTopology } from '../memory.js';
import type { ArchSpec } from './types.js';

/** arm64: the `virt` machine, root bus `pcie.0`, PCI bridges behind it. */
export const arm64: ArchSpec = {
  arch: 'arm64',
  qemuBinary: 'qemu-system-aarch64',
  defaultMachineType: 'virt',
  machines: [
    {
      type: 'virt',
      options: ['usb=off'],
      kvmOptions: ['gic-version=host'],
      tcgOptions: ['gic-version=max'],
      rootBus: 'pcie.0',
      bridgeType: 'pci',
      pcie: true,
      // nvdimm needs the ACPI GED device, which virt creates only with UEFI firmware.
      nvdimm: true,
    },
  ],
  cpuModel: (accel) => (accel === 'kvm' ? 'host' : 'max'),
  memoryTopology: genericMemoryTopology,
  numa: true,
  memoryHotplug: true,
};
