// amd64 table: pc and q35 (Kata qemu_amd64.go), `host` CPU under KVM, `max` under TCG.
import { genericMemoryTopology } from '../memory.js';
import type { ArchSpec, MachineSpec } from './types.js';

const pc: MachineSpec = {
  type: 'pc',
  options: [],
  kvmOptions: ['kernel_irqchip=on'],
  tcgOptions: [],
  rootBus: 'pci.0',
  bridgeType: 'pci',
  pcie: false,
  nvdimm: true,
};

const q35: MachineSpec = { ...pc, type: 'q35', rootBus: 'pcie.0', pcie: true };

/** microvm: no PCI at all; virtio devices sit on virtio-mmio transports, there are no bridges. */
const microvm: MachineSpec = {
  ...pc,
  type: 'microvm',
  kvmOptions: [],
  rootBus: undefined,
  pcie: false,
  nvdimm: false,
};

/** amd64: `pc` (i440FX, root bus `pci.0`) and `q35` (root bus `pcie.0`); q35 is the default, as in Kata. */
export const amd64: ArchSpec = {
  arch: 'amd64',
  qemuBinary: 'qemu-system-x86_64',
  defaultMachineType: 'q35',
  machines: [q35, pc, microvm],
  cpuModel: (accel) => (accel === 'kvm' ? 'host' : 'max'),
  memoryTopology: genericMemoryTopology,
  numa: true,
  memoryHotplug: true,
};
