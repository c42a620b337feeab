// Hot-plug and resize operations of a running sandbox: runOperation, the provider, the device record.
export type { DeviceRecordInit } from '../devices/record.js';
export { DeviceRecord, DeviceRecordVersionError } from '../devices/record.js';
export type * from '../devices/record-types.js';
export type { HostFacts, HotplugPlan, HotplugStep, QmpStep } from './build.js';
export { hotplugPlan } from './build.js';
export type { CapacityVerdict } from './capacity.js';
export { assertCapacity, capacityFor, memoryInUseMiB } from './capacity.js';
export type { Confirmation } from './confirm.js';
export { blockDeviceSizeBytes } from './confirm.js';
export type {
  HotplugConfig,
  HotplugContext,
  HotplugDeadlines,
  HotplugLimits,
  HotplugPhase,
  HotplugQmp,
} from './context.js';
export { DEFAULT_DEADLINES, deadlinesOf, hostMemoryMiB, limitsOf } from './context.js';
export { cpuDeviceArgs, hotplugAddCPUs, hotplugRemoveCPUs, resizeVCPUs } from './cpu.js';
export * from './errors.js';
export type { GuestDisk, GuestNic, GuestProbe } from './guest-probe.js';
export { agentGuestProbe, waitUntil } from './guest-probe.js';
export { hotplugAddMemory, resizeMemory } from './memory.js';
export { dimmTotalMiB, memoryBackendArgs, memoryBackendFor } from './memory-backend.js';
export { calcHotplugMemMiBSize } from './memory-size.js';
export { effectiveBlockDriver, hotplugDevice, vfioPlacementKind } from './plug.js';
export type { HotplugProvider, HotplugProviderOptions } from './provider.js';
export { createHotplugProvider } from './provider.js';
export { runOperation } from './run-operation.js';
export { parseDeviceSpec } from './spec-input.js';
export type * from './types.js';
export { finishRemoval, settlePendingRemovals, unplugDevice } from './unplug.js';
export {
  adoptVirtioMem,
  resizeVirtioMem,
  setupVirtioMem,
  VIRTIO_MEM_BACKEND_ID,
  VIRTIO_MEM_ID,
  virtioMemArgv,
  virtioMemRegionMiB,
} from './virtio-mem.js';
