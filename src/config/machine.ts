// Machine rules: a machine type the arch has, block drivers the arch has, PCIe root ports only on q35/virt.
import { expected } from './checks.js';
import { ARCH_DEFAULTS } from './defaults.js';
import type { HypervisorDraft } from './hypervisor.js';

/** Kata's qemu_<arch>.go facts: machine types per arch, s390x's CCW block driver, PCIe root ports. */
export function checkMachine(d: HypervisorDraft): void {
  const { hv, issues } = d;
  const { machineTypes } = ARCH_DEFAULTS[hv.arch];
  if (!machineTypes.includes(hv.hypervisorMachineType)) {
    const list = machineTypes.map((m) => `\`${m}\``).join(', ');
    expected(
      issues,
      'hypervisor.hypervisorMachineType',
      `a machine type for ${hv.arch} (${list})`,
      hv.hypervisorMachineType,
    );
  }
  // Kata's loader: on s390x `virtio-blk` means the CCW variant.
  if (hv.arch === 's390x' && hv.blockDeviceDriver === 'virtio-blk') hv.blockDeviceDriver = 'virtio-blk-ccw';
  if (hv.arch !== 's390x' && hv.blockDeviceDriver === 'virtio-blk-ccw') {
    const what = 'a driver available on this arch (`virtio-blk-ccw` is s390x only)';
    expected(issues, 'hypervisor.blockDeviceDriver', what, hv.blockDeviceDriver);
  }
  if (hv.pcieRootPort > 0 && !(hv.hypervisorMachineType === 'q35' || hv.hypervisorMachineType === 'virt')) {
    const what = `0 on machine \`${hv.hypervisorMachineType}\` (PCIe root ports need q35 or virt)`;
    expected(issues, 'hypervisor.pcieRootPort', what, hv.pcieRootPort);
  }
}
