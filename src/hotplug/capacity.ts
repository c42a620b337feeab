// Pure capacity guards, checked before any QMP: bridge slots, root ports, memory slots, maxmem, vCPUs.
import type { SandboxOperation } from '../../machines/operation.types.js';
import type { BridgeType } from '../devices/bridges.js';
import type { DeviceRecord } from '../devices/record.js';
import type { DeviceSpec } from '../devices/spec.js';
import type { HotplugConfig, HotplugLimits } from './context.js';
import { type CapacityResource, HotplugCapacityError } from './errors.js';
import { calcHotplugMemMiBSize } from './memory-size.js';
import { validDeviceSpec } from './spec-input.js';

/** The verdict of a capacity guard. */
export type CapacityVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly resource: CapacityResource; readonly message: string };

const OK: CapacityVerdict = { ok: true };

function no(resource: CapacityResource, message: string): CapacityVerdict {
  return { ok: false, resource, message };
}

/** Whether VFIO goes to the root bus / a root port here (Kata's `hotplug_vfio_on_root_bus`). */
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

function bridgeSlot(state: DeviceRecord, transport: 'pci' | 'ccw', id: string): CapacityVerdict {
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
export function memoryInUseMiB(state: DeviceRecord, limits: HotplugLimits): number {
  const dimms = state.dimms.reduce((n, d) => n + d.sizeMiB, 0);
  return limits.bootMemoryMiB + dimms + state.nvdimmMiB() + (state.virtioMem?.regionMiB ?? 0);
}

/** Room for `mib` more MiB of pc-dimm memory: a free slot, below maxmem and host memory. */
export function dimmCapacity(state: DeviceRecord, limits: HotplugLimits, mib: number): CapacityVerdict {
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

/** Room for one device: a bridge slot, a SCSI id/LUN, a root port or a memory slot. */
function deviceCapacity(
  state: DeviceRecord,
  config: HotplugConfig,
  limits: HotplugLimits,
  spec: DeviceSpec,
): CapacityVerdict {
  switch (spec.kind) {
    case 'block': {
      const driver = spec.pmem ? 'nvdimm' : (spec.driver ?? config.blockDeviceDriver);
      if (driver === 'nvdimm') {
        return state.memorySlotsUsed() >= limits.memSlots
          ? no(
              'memory-slots',
              `Expected a free memory slot for nvdimm \`${spec.id}\`, but all ${limits.memSlots} are used`,
            )
          : OK;
      }
      if (driver === 'virtio-scsi') {
        return state.nextScsiIndex() === undefined
          ? no('scsi-ids', `Expected a free SCSI id/LUN for \`${spec.id}\``)
          : OK;
      }
      if (driver === 'virtio-blk-ccw') return bridgeSlot(state, 'ccw', spec.id);
      if (driver === 'virtio-blk') return bridgeSlot(state, 'pci', spec.id);
      return OK; // unsupported drivers are refused by the operation with a typed error
    }
    case 'vhost-user':
      return spec.type === 'blk' ? bridgeSlot(state, 'pci', spec.id) : OK;
    case 'net':
      return bridgeSlot(state, config.hypervisorMachineType === 's390-ccw-virtio' ? 'ccw' : 'pci', spec.id);
    case 'vfio': {
      if (!vfioOnRootBus(config)) return bridgeSlot(state, 'pci', spec.id);
      if (vfioWantsRootPort(config, spec.pcie) && !state.hasFreeRootPort()) {
        return no(
          'root-ports',
          `Expected a free PCIe root port for \`${spec.id}\`, but all ${config.pcieRootPort} are used`,
        );
      }
      return OK;
    }
    default:
      return OK; // kinds hot plug does not do are refused by the operation
  }
}

/**
 * Whether `op` fits the sandbox now (the machine's `hasCapacity` guard; also checked by
 * `runOperation` before its first QMP command). Pure: reads the device record only.
 *
 * @example
 * capacityFor(record, config, limits, { kind: 'resize-vcpus', count: 64, strict: true })
 * // => { ok: false, resource: 'maxcpus', message: '...' }
 */
export function capacityFor(
  state: DeviceRecord,
  config: HotplugConfig,
  limits: HotplugLimits,
  op: SandboxOperation,
): CapacityVerdict {
  switch (op.kind) {
    case 'hotplug': {
      // An invalid spec passes here and is refused, with every problem listed, by the operation.
      const parsed = validDeviceSpec(op.device);
      return parsed ? deviceCapacity(state, config, limits, parsed) : OK;
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
  state: DeviceRecord,
  config: HotplugConfig,
  limits: HotplugLimits,
  op: SandboxOperation,
): void {
  const v = capacityFor(state, config, limits, op);
  if (!v.ok) throw new HotplugCapacityError(v.resource, v.message);
}
