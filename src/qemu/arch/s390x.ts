// s390x table: s390-ccw-virtio (Kata qemu_s390x.go): CCW "bridge", devices addressed by devno fe.0.xxxx.
import { genericMemoryTopology } from '../memory.js';
import type { ArchSpec } from './types.js';

/** s390x: `s390-ccw-virtio`, no PCI root bus; virtio devices are `-ccw` with a `devno`. */
export const s390x: ArchSpec = {
  arch: 's390x',
  qemuBinary: 'qemu-system-s390x',
  defaultMachineType: 's390-ccw-virtio',
  machines: [
    {
      type: 's390-ccw-virtio',
      options: [],
      kvmOptions: [],
      tcgOptions: [],
      rootBus: undefined,
      bridgeType: 'ccw',
      pcie: false,
      nvdimm: false,
    },
  ],
  cpuModel: (accel) => (accel === 'kvm' ? 'host' : 'max'),
  memoryTopology: genericMemoryTopology,
  numa: false,
  memoryHotplug: true,
};
