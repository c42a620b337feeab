// The public API of vmactor: the one barrel.

// Configuration: types, validation (one ConfigError listing every issue), kernel params, Kata TOML.
export { ConfigError } from './config/config-error.js';
export type { ConfigFormat, LoadConfigOptions, LoadedConfig } from './config/config-file.js';
export { loadConfigFile, parseConfigText } from './config/config-file.js';
export type { KataTomlOptions, KataTomlResult } from './config/kata-toml.js';
export { loadKataToml, parseKataToml } from './config/kata-toml.js';
export { buildKernelParams, deserializeParams, serializeParams } from './config/kernel-params.js';
export type {
  Arch,
  BlockDeviceDriver,
  ColdPlugDevice,
  ConfigIssue,
  ConfigWarning,
  HypervisorConfig,
  HypervisorConfigInput,
  Param,
  SandboxConfig,
  SharedFS,
  ValidatedConfig,
} from './config/types.js';
export type { ValidateOptions } from './config/validate.js';
export { SANDBOX_ID_RE, validateConfig } from './config/validate.js';
export { VmactorError } from './errors/vmactor-error.js';
export type { GuestArtifacts, GuestFlavour } from './guest/paths.js';
export { guestArtifacts, guestCacheDir } from './guest/paths.js';
// Sandboxes: the actor-backed handle, its options, events and errors.
export type { CreateLoggerOptions, LogLevel } from './log.js';
export { createLogger, rootLogger } from './log.js';
export {
  LaunchFdError,
  NetnsError,
  QemuExitedEarlyError,
  RunDirError,
  RunDirPathError,
  SpawnError,
  VirtiofsdExitedEarlyError,
  VsockCidInUseError,
} from './process/errors.js';
export { defaultRunBase } from './process/run-dir.js';
export type { StopPolicy } from './process/stop-ladder.js';
export { DEFAULT_STOP_POLICY } from './process/stop-ladder.js';
export { classifyQemuStartError } from './qemu/devices/refusal.js';
export {
  BridgeFullError,
  NoBridgeError,
  PathEscapeError,
  PlanError,
  SocketPathTooLongError,
  UnsupportedMachineError,
} from './qemu/errors.js';
// The QEMU plan: config → argv, fds, socket paths, bridges (pure).
export type { PlannedDevice, PlannedFd, PlanQemuOptions, QemuPlan } from './qemu/plan.js';
export { planQemu } from './qemu/plan.js';
// QMP: the client (one owner of a QMP stream), its events and typed errors.
export type { QmpConnectOptions, QmpExecuteOptions } from './qmp/client.js';
export { QmpClient } from './qmp/client.js';
export {
  QmpAbortError,
  QmpCommandError,
  QmpDisconnectedError,
  QmpFdPassingError,
  QmpOptionError,
  QmpProtocolError,
  QmpSchemaUnavailableError,
  QmpTimeoutError,
} from './qmp/errors.js';
export { QmpSchema, QmpSchemaError } from './qmp/schema-check.js';
export type { QmpCloseInfo, QmpEvent, QmpMessage } from './qmp/types.js';
export type { CreateSandboxOptions } from './sandbox/create.js';
export { createSandbox } from './sandbox/create.js';
export {
  GuestFailureError,
  SandboxCommandError,
  SandboxOperationError,
  SandboxStartError,
  SandboxStartTimeoutError,
  SandboxStateError,
} from './sandbox/errors.js';
export type {
  LifecycleEvent,
  SandboxActor,
  SandboxOptions,
  StopResult,
  VcpuThreadIds,
} from './sandbox/sandbox.js';
export { openSandbox, Sandbox } from './sandbox/sandbox.js';
export type {
  LaunchPaths,
  LaunchPlan,
  OperationContext,
  OperationProvider,
  SandboxSpec,
} from './sandbox/spec.js';
