// What a sandbox's hypervisor supports, from its validated config and arch (Kata's qemu.go `capabilities()`).
import type { HypervisorConfig } from '../config/types.js';

/**
 * The hypervisor's capabilities (Kata's `types.Capabilities`): what the runtime may ask of this
 * sandbox. Derived from the config alone; nothing is asked of QEMU.
 */
export interface SandboxCapabilities {
  /** Disks can be attached (`disableBlockDeviceUse` off). */
  readonly blockDevice: boolean;
  /** Disks can be hot-plugged (Kata: q35/virt on amd64, pseries, virt, s390-ccw-virtio; not virtio-mmio). */
  readonly blockDeviceHotplug: boolean;
  /** NICs can be hot-plugged (same machines as disks). */
  readonly networkDeviceHotplug: boolean;
  /** Multiqueue virtio-net (Kata sets it on every arch). */
  readonly multiQueue: boolean;
  /** A host directory can be shared (`sharedFS` is virtio-fs or virtio-9p). */
  readonly fsSharing: boolean;
  /** Memory can grow at run time (memory slots, or virtio-mem). */
  readonly memoryHotplug: boolean;
  /** vCPUs can be added at run time (max vCPUs above the boot count). */
  readonly vcpuHotplug: boolean;
}

/** Machine types whose buses take hot-plugged devices (Kata's per-arch `capabilities()`). */
const HOTPLUG_MACHINES: Readonly<Record<HypervisorConfig['arch'], readonly string[]>> = {
  amd64: ['q35', 'virt'],
  arm64: ['virt'],
  ppc64le: ['pseries'],
  s390x: ['s390-ccw-virtio'],
};

/**
 * The capabilities of a sandbox with this hypervisor config, as Kata's qemu.go `capabilities()`
 * (qemu_amd64.go: block hot plug on q35/virt only; multiqueue always; fs sharing unless
 * `sharedFS` is `none`).
 *
 * @example
 * ```ts
 * const caps = capabilitiesOf(validated.hypervisor);
 * if (caps.blockDeviceHotplug) await sb.hotplug({ kind: 'block', id: 'd1', file: '/var/d1.img' });
 * ```
 */
export function capabilitiesOf(hv: HypervisorConfig): SandboxCapabilities {
  const machine = hv.hypervisorMachineType;
  const hotplugBus = HOTPLUG_MACHINES[hv.arch].includes(machine);
  return {
    blockDevice: !hv.disableBlockDeviceUse,
    blockDeviceHotplug: hotplugBus && !hv.disableBlockDeviceUse && hv.blockDeviceDriver !== 'virtio-mmio',
    networkDeviceHotplug: hotplugBus,
    multiQueue: true,
    fsSharing: hv.sharedFS !== 'none',
    memoryHotplug: hv.memSlots > 0 || hv.virtioMem,
    vcpuHotplug: hv.defaultMaxVCPUs > hv.numVCPUs,
  };
}
