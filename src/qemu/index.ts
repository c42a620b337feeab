// The QEMU layer: config → plan (argv, fds, paths, bridges), arch tables, device argv; re-exports the bridge allocator (src/devices/bridges.ts).

export type { BridgeSlot, BridgeState, BridgeType } from '../devices/bridges.js';
export {
  addDeviceToBridge,
  BRIDGE_PCI_START_ADDR,
  CCW_BRIDGE_MAX_CAPACITY,
  ccwDevno,
  createBridges,
  findDeviceOnBridge,
  MAX_BRIDGES,
  PCI_BRIDGE_MAX_CAPACITY,
  pciPath,
  removeDeviceFromBridge,
} from '../devices/bridges.js';
export { BridgeDeviceError, BridgeFullError, NoBridgeError } from '../devices/errors.js';
export { scsiIdLun } from '../devices/rules.js';
export type { Accelerator, Arch, ArchSpec, MachineSpec, MemoryTopology, SmpTopology } from './arch/index.js';
export { ARCHES, archSpec, machineSpec } from './arch/index.js';
export { argvHash } from './argv-hash.js';
export * from './devices/index.js';
export {
  PathEscapeError,
  PlanError,
  SocketPathTooLongError,
  UnsupportedMachineError,
} from './errors.js';
export type { OptionPart } from './escape.js';
export { escapeOptionValue, formatOptions } from './escape.js';
export type { Knobs } from './knobs.js';
export { knobsArgs } from './knobs.js';
export type { LowerHypervisor, LowerOptions } from './lower-device.js';
export {
  defaultMac,
  lowerDeviceSpec,
  lowerSpecUnplaced,
  placeDevice,
  SCSI_BUS,
  specWithDefaults,
} from './lower-device.js';
export type { MachineArgOptions } from './machine.js';
export { machineArg } from './machine.js';
export { genericMemoryTopology, memoryArg } from './memory.js';
export type { MemoryBackend } from './objects.js';
export { memoryBackendArg } from './objects.js';
export type { PlanPaths } from './paths.js';
export {
  checkSocketPath,
  planPaths,
  RUN_DIR_FILES,
  underRunDir,
} from './paths.js';
export type { PlannedDevice, PlannedFd, PlanOptions, PlanQemuOptions, QemuPlan } from './plan.js';
export { MEMORY_BACKEND_ID, planQemu, planQemuSpec, QMP_PATH_CHARDEV, SHARED_FS_TAG } from './plan.js';
export type { PlanConfigOptions } from './plan-config.js';
export { planSpecFromConfig, stableUuid } from './plan-config.js';
export type { BlockDeviceDriver, PlanSpec, TemplateRole } from './plan-spec.js';
export { cpuTopology, smpArg } from './smp.js';
export type { VirtiofsdOptions } from './virtiofsd.js';
export { DEFAULT_VIRTIOFSD, escapeFuseOption, virtiofsdArgs } from './virtiofsd.js';
