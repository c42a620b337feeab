// The public API of vmactor: the one barrel. Every type the API takes and every error class it throws.

// Operations and machine data the handle takes and reports (plain data, from machines/).
export type {
  DumpOperation,
  HotplugDeviceOperation,
  HotplugMemoryOperation,
  ResizeMemoryOperation,
  ResizeVcpusOperation,
  SandboxOperation,
  SandboxOperationKind,
  SaveTemplateOperation,
  SetupVirtioMemOperation,
  UnplugOperation,
} from '../machines/operation.types.js';
export type {
  LifecycleReason,
  OperationPhase,
  PauseReason,
  ProcessExit,
  SandboxPhase,
  ShutdownInitiator,
  StopDetails,
  StopReason,
} from '../machines/sandbox.types.js';
export { SANDBOX_PHASES, STOP_REASONS } from '../machines/sandbox.types.js';
export type { AdmissionReason, AdmissionRefusal, SupervisorLimits } from '../machines/supervisor.types.js';
// Configuration: types, validation (one ConfigError listing every issue), kernel params, Kata TOML.
export { ConfigError } from './config/config-error.js';
export type { ConfigFormat, LoadConfigOptions, LoadedConfig } from './config/config-file.js';
export { loadConfigFile, parseConfigText } from './config/config-file.js';
export type { KataTomlOptions, KataTomlResult } from './config/kata-toml.js';
export { loadKataToml, parseKataToml } from './config/kata-toml.js';
export { buildKernelParams, deserializeParams, serializeParams } from './config/kernel-params.js';
export type {
  BlockDeviceDriver,
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
export { validateConfig } from './config/validate.js';
export { BridgeDeviceError, BridgeFullError, NoBridgeError } from './devices/errors.js';
// The device model: one DeviceSpec (zod) for cold and hot plug, its record, and one rule per fact.
export type {
  BridgeEntry,
  DeviceBackends,
  DeviceEntry,
  DeviceRecordData,
  Placement,
} from './devices/record-types.js';
export * from './devices/rules.js';
export type {
  BalloonSpec,
  BlockDriver,
  BlockSpec,
  DeviceKind,
  DeviceSpec,
  FsSpec,
  NetSpec,
  NinePSpec,
  PvpanicSpec,
  RngSpec,
  VfioSpec,
  VhostUserSpec,
  VirtioFsSpec,
  VsockSpec,
} from './devices/spec.js';
export { deviceSpecJsonSchema, deviceSpecSchema } from './devices/spec.js';
export { VmactorError } from './errors/vmactor-error.js';
// VM templates (save, clone) and the VM factory (Kata's factory/).
export * from './factory/index.js';
// The default guest: its artifacts, its agent client and the guest-side errors.
export type {
  GuestAgentClientOptions,
  GuestCallOptions,
  GuestEventWaitOptions,
  GuestReadyOptions,
} from './guest/agent-client.js';
export { GuestAgentClient } from './guest/agent-client.js';
export {
  GuestAgentClosedError,
  GuestAgentReplyError,
  GuestAgentTimeoutError,
  GuestBuildError,
  GuestEventTimeoutError,
  GuestPrerequisiteError,
  GuestProtocolError,
  GuestRequestInvalidError,
} from './guest/errors.js';
export type { GuestArtifacts, GuestFlavour } from './guest/paths.js';
export { guestArtifacts, guestCacheDir } from './guest/paths.js';
// Hot plug and resize: the errors operations reject with, and what they resolve with.
export * from './hotplug/errors.js';
export type * from './hotplug/types.js';
// The live inspector: inspect(sandbox | factory | supervisor) serves the state-chart page on 127.0.0.1 (Fastify loaded on call).
export * from './inspect/index.js';
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
export { QemuDeviceError } from './qemu/devices/errors.js';
// QEMU's own refusals at start (VFIO, vhost-vsock, vhost-net, hugepages missing on this host).
export * from './qemu/devices/refusal.js';
export {
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
export * from './qmp/errors.js';
export { type QmpObserver, setQmpObserver } from './qmp/observer.js';
export { QmpSchema, QmpSchemaError } from './qmp/schema-check.js';
export type { QmpCloseInfo, QmpEvent, QmpMessage } from './qmp/types.js';
// Durable state, reattach and hand-off: state.json, attachSandbox, sb.detach() handles, recovery of a run base.
export type { AttachOptions, ReattachReport } from './sandbox/attach.js';
export { attachSandbox, reattachReport } from './sandbox/attach.js';
// Sandboxes: the actor-backed handle, its options, its one event stream and its errors.
export type { SandboxCapabilities } from './sandbox/capabilities.js';
export type { CreateSandboxOptions } from './sandbox/create.js';
export { createSandbox } from './sandbox/create.js';
export type { SandboxHandle } from './sandbox/detach.js';
export * from './sandbox/errors.js';
export type {
  SandboxCommandFailedEvent,
  SandboxDeviceEvent,
  SandboxEvent,
  SandboxLifecycleEvent,
  SandboxMigrationEvent,
  SandboxOperationEvent,
  SandboxReattachedEvent,
  SandboxStateWriteFailedEvent,
} from './sandbox/events.js';
export type { OperationResultOf } from './sandbox/operations.js';
export type {
  LifecycleEvent,
  SandboxActor,
  SandboxOptions,
  StopResult,
  VcpuThreadIds,
} from './sandbox/sandbox.js';
export { DEFAULT_QMP_COMMAND_TIMEOUT_MS, openSandbox, Sandbox, sandboxSystemId } from './sandbox/sandbox.js';
export type {
  LaunchPaths,
  LaunchPlan,
  OperationContext,
  OperationProvider,
  SandboxSpec,
} from './sandbox/spec.js';
export * from './sandbox/state-errors.js';
export { parseState, readStateFile, STATE_FILE, writeStateFile } from './sandbox/state-file.js';
export type { SandboxState } from './sandbox/state-schema.js';
export { STATE_VERSION } from './sandbox/state-schema.js';
export * from './sandbox/template/index.js';
// The supervisor: many sandboxes of one host, admission limits, bounded starts, one numbered event stream.
// (The HTTP service itself is `vmactor/server`, kept out of this barrel so importing vmactor loads no web framework.)
export {
  AdmissionError,
  defaultMemoryBudgetMiB,
  EventLog,
  type HostEvent,
  openSupervisor,
  type RecoverOptions,
  type RecoverStep,
  type RecoveryHost,
  type RecoveryOutcome,
  type Replay,
  recoverSandboxes,
  SandboxNotFoundError,
  type SandboxSummary,
  type Sequenced,
  Supervisor,
  type SupervisorOptions,
  TemplateNotFoundError,
  type TemplateSummary,
} from './supervisor/index.js';
