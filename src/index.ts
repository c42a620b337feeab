// The public API of vmactor: the one barrel.
export { VmactorError } from './errors/vmactor-error.js';
export type { GuestArtifacts, GuestFlavour } from './guest/paths.js';
export { guestArtifacts, guestCacheDir } from './guest/paths.js';
// Sandboxes: the actor-backed handle, its options, events and errors.
export type { CreateLoggerOptions, LogLevel } from './log.js';
export { createLogger, rootLogger } from './log.js';
export {
  QemuExitedEarlyError,
  RunDirError,
  RunDirPathError,
  SpawnError,
  VirtiofsdExitedEarlyError,
} from './process/errors.js';
export { defaultRunBase } from './process/run-dir.js';
export type { StopPolicy } from './process/stop-ladder.js';
export { DEFAULT_STOP_POLICY } from './process/stop-ladder.js';
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
