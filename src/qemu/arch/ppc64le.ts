// ppc64le table: pseries (Kata qemu_ppc64le.go: usb=off, spectre caps off, maxmem aligned to 256 MiB).
import { genericMemoryTopology } from '../memory.js';
import type { ArchSpec } from './types.js';

/** pseries hotplugs memory in 256 MiB LMBs: maxmem must be a multiple. */
export const PPC64LE_MEMORY_BLOCK_MIB = 256;

/** ppc64le: `pseries`, root bus `pci.0`; `host` under KVM, `POWER9` under TCG (there is no `max`). */
export const ppc64le: ArchSpec = {
  arch: 'ppc64le',
  qemuBinary: 'qemu-system-ppc64',
  defaultMachineType: 'pseries',
  machines: [
    {
      type: 'pseries',
      options: [
        'usb=off',
        'cap-cfpc=broken',
        'cap-sbbc=broken',
        'cap-ibs=broken',
        'cap-large-decr=off',
        'cap-ccf-assist=off',
      ],
      kvmOptions: [],
      tcgOptions: [],
      rootBus: 'pci.0',
      bridgeType: 'pci',
      pcie: false,
      nvdimm: true,
    },
  ],
  cpuModel: (accel, nested) => (accel === 'kvm' ? (nested ? 'host,pmu=off' : 'host') : 'POWER9'),
  memoryTopology: (memoryMiB, hostMemoryMiB, slots, offsetMiB) => {
    const host = hostMemoryMiB - (hostMemoryMiB % PPC64LE_MEMORY_BLOCK_MIB);
    const t = genericMemoryTopology(memoryMiB, host, slots, offsetMiB);
    const max = t.maxMemMiB - (t.maxMemMiB % PPC64LE_MEMORY_BLOCK_MIB);
    return { ...t, maxMemMiB: Math.max(max, memoryMiB) };
  },
  numa: true,
  memoryHotplug: true,
};
