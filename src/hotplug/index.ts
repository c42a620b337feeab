// Hot-plug and resize operations of a running sandbox: runOperation and its building blocks.
export {
  blockDeviceArgs,
  blockDeviceSizeBytes,
  blockdevArgs,
  blockNodeName,
  nvdimmBackendId,
  SCSI_BUS,
} from './block.js';
export type { CapacityVerdict } from './capacity.js';
export { assertCapacity, capacityFor, effectiveBlockDriver, memoryInUseMiB } from './capacity.js';
export { DEVICE_ID_RE } from './common.js';
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
export type * from './device-state.js';
export { DeviceState } from './device-state.js';
export * from './errors.js';
export type { GuestDisk, GuestProbe } from './guest-probe.js';
export { agentGuestProbe, waitUntil } from './guest-probe.js';
export { hotplugAddMemory, memoryBackendArgs, memoryBackendFor, resizeMemory } from './memory.js';
export { calcHotplugMemMiBSize } from './memory-size.js';
export { netDeviceArgs, netdevId } from './net.js';
export type { HotplugProvider, HotplugProviderOptions } from './provider.js';
export { createHotplugProvider } from './provider.js';
export { runOperation, settlePendingRemovals } from './run-operation.js';
export { getSCSIIdLun, MAX_SCSI_DEVICES } from './scsi-id-lun.js';
export type * from './types.js';
export { vfioDeviceArgs, vfioPlacementKind } from './vfio.js';
export { vhostUserChardevId } from './vhost-user-blk.js';
export {
  adoptVirtioMem,
  resizeVirtioMem,
  setupVirtioMem,
  VIRTIO_MEM_BACKEND_ID,
  VIRTIO_MEM_ID,
  virtioMemArgv,
  virtioMemRegionMiB,
} from './virtio-mem.js';
