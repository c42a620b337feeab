// Pure capacity guards, checked before any QMP: bridge slots, root ports, memory slots, maxmem, vCPUs.
import type { SandboxOperation } from '../../machines/operation.types.js';
import type { BridgeType } from '../qemu/bridges.js';
import type { HotplugConfig, HotplugLimits } from './context.js';
import type { DeviceState } from './device-state.js';
import { type CapacityResource, HotplugCapacityError } from './errors.js';
import { calcHotplugMemMiBSize } from './memory-size.js';
import { MAX_SCSI_DEVICES } from './scsi-id-lun.js';

/** The verdict of a capacity guard. */
export type CapacityVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly resource: CapacityResource; readonly message: string };

const OK: CapacityVerdict = { ok: true };

function no(resource: CapacityResource, message: string): CapacityVerdict {
  return { ok: false, resource, message };
}

/** The block driver an operation ends up with (the seeds: nvdimm when pmem). */
export function effectiveBlockDriver(
  op: { readonly driver?: string; readonly pmem?: boolean },
  config: Pick<HotplugConfig, 'blockDeviceDriver'>,
): string {
  if (op.pmem) return 'nvdimm';
  return op.driver ?? config.blockDeviceDriver;
}

/** Whether VFIO goes to the root bus / a root port here (the seeds' hotplugVFIOOnRootBus). */
export function vfioOnRootBus(config: Pick<HotplugConfig, 'hotplugVFIOOnRootBus'>): boolean {
  return config.hotplugVFIOOnRootBus;
}

/** Whether a VFIO device gets a PCIe root port (q35, a PCIe device, root ports configured). */
export function vfioWantsRootPort(
  config: Pick<HotplugConfig, 'hypervisorMachineType' | 'pcieRootPort'>,
  pcie: boolean | undefined,
): boolean {
  return config.hypervisorMachineType === 'q35' && pcie === true && config.pcieRootPort > 0;
}

function bridgeSlot(state: DeviceState, transport: 'pci' | 'ccw', id: string): CapacityVerdict {
  const type: BridgeType | undefined = state.bridgeTypeFor(transport);
  if (type === undefined || state.freeSlots(type) <= 0) {
    return no(
      'bridge-slots',
      `Expected a free ${transport} bridge slot for \`${id}\`: no more bridge slots available`,
    );
  }
  return OK;
}

/** MiB below maxmem taken by boot memory and memory devices (DIMMs, nvdimms, the virtio-mem region). */
export function memoryInUseMiB(state: DeviceState, limits: HotplugLimits): number {
  const dimms = state.dimms.reduce((n, d) => n + d.sizeMiB, 0);
  return limits.bootMemoryMiB + dimms + state.nvdimmMiB() + (state.virtioMem?.regionMiB ?? 0);
}

/** Room for `mib` more MiB of pc-dimm memory: a free slot, below maxmem and host memory. */
export function dimmCapacity(state: DeviceState, limits: HotplugLimits, mib: number): CapacityVerdict {
  if (state.memorySlotsUsed() >= limits.memSlots) {
    return no('memory-slots', `Expected a free memory slot, but all ${limits.memSlots} are used`);
  }
  const current = limits.bootMemoryMiB + state.hotpluggedMemoryMiB;
  if (current + mib > limits.hostMemMiB) {
    return no(
      'host-memory',
      `Unable to hotplug ${mib} MiB memory, the SB has ${current} MiB and the maximum amount is ${limits.hostMemMiB} MiB`,
    );
  }
  const used = memoryInUseMiB(state, limits);
  if (used + mib > limits.maxMemMiB) {
    return no(
      'maxmem',
      `Expected ${mib} MiB to fit below maxmem ${limits.maxMemMiB} MiB, but ${used} MiB are already in use`,
    );
  }
  return OK;
}

/**
 * Whether `op` fits the sandbox now (the machine's `hasCapacity` guard; also checked by
 * `runOperation` before its first QMP command). Pure: reads the recorded state only.
 *
 * @example
 * capacityFor(state, config, limits, { kind: 'resize-vcpus', count: 64, strict: true })
 * // => { ok: false, resource: 'maxcpus', message: '...' }
 */
export function capacityFor(
  state: DeviceState,
  config: HotplugConfig,
  limits: HotplugLimits,
  op: SandboxOperation,
): CapacityVerdict {
  switch (op.kind) {
    case 'hotplug-block': {
      const driver = effectiveBlockDriver(op, config);
      if (driver === 'nvdimm') {
        return state.memorySlotsUsed() >= limits.memSlots
          ? no(
              'memory-slots',
              `Expected a free memory slot for nvdimm \`${op.id}\`, but all ${limits.memSlots} are used`,
            )
          : OK;
      }
      if (driver === 'virtio-scsi') {
        return state.nextBlockIndex() >= MAX_SCSI_DEVICES
          ? no('scsi-ids', `Expected a free SCSI id/LUN for \`${op.id}\``)
          : OK;
      }
      if (driver === 'virtio-blk-ccw') return bridgeSlot(state, 'ccw', op.id);
      if (driver === 'virtio-blk') return bridgeSlot(state, 'pci', op.id);
      return OK; // unsupported drivers are refused by the block module with a typed error
    }
    case 'hotplug-vhost-user-blk':
      return bridgeSlot(state, 'pci', op.id);
    case 'hotplug-net':
      return bridgeSlot(state, config.hypervisorMachineType === 's390-ccw-virtio' ? 'ccw' : 'pci', op.id);
    case 'hotplug-vfio': {
      if (!vfioOnRootBus(config)) return bridgeSlot(state, 'pci', op.id);
      if (vfioWantsRootPort(config, op.pcie) && !Object.values(state.rootPorts).includes(null)) {
        return no(
          'root-ports',
          `Expected a free PCIe root port for \`${op.id}\`, but all ${config.pcieRootPort} are used`,
        );
      }
      return OK;
    }
    case 'hotplug-memory':
      return dimmCapacity(state, limits, op.mib);
    case 'resize-memory': {
      const current = limits.bootMemoryMiB + state.hotpluggedMemoryMiB;
      const vm = state.virtioMem;
      if (vm) {
        const dimms = state.dimms.reduce((n, d) => n + d.sizeMiB, 0);
        const floor = limits.bootMemoryMiB + dimms;
        const want = op.mib - floor;
        if (want < 0 || want > vm.regionMiB) {
          return no(
            'virtio-mem',
            `Expected \`mib\` between ${floor} and ${floor + vm.regionMiB} (the virtio-mem region), got \`${op.mib}\``,
          );
        }
        return OK;
      }
      if (op.mib <= current) return OK; // shrinking is "not supported" (a warning), not a refusal
      return dimmCapacity(state, limits, calcHotplugMemMiBSize(op.mib - current, op.memoryBlockSizeMiB ?? 0));
    }
    case 'resize-vcpus': {
      if (!Number.isInteger(op.count) || op.count < 1) return OK; // refused as invalid input by the operation
      const current = limits.bootVcpus + state.vcpus.length;
      if (op.count < current && current - op.count > state.vcpus.length) {
        return no(
          'hotplugged-cpus',
          `Unable to remove ${current - op.count} CPUs, currently there are only ${state.vcpus.length} hotplugged CPUs`,
        );
      }
      if (op.strict && op.count > limits.maxVcpus) {
        return no('maxcpus', `Expected at most ${limits.maxVcpus} vCPUs (max vCPUs), got \`${op.count}\``);
      }
      return OK;
    }
    default:
      return OK;
  }
}

/** Throws {@link HotplugCapacityError} when {@link capacityFor} says no. */
export function assertCapacity(
  state: DeviceState,
  config: HotplugConfig,
  limits: HotplugLimits,
  op: SandboxOperation,
): void {
  const v = capacityFor(state, config, limits, op);
  if (!v.ok) throw new HotplugCapacityError(v.resource, v.message);
}
