// The sandbox layer: the public Sandbox handle, its events and errors, and the actors binding the machine to QMP and processes.
export {
  dumpFilePath,
  type ProvidedSandboxMachine,
  provideSandboxMachine,
  type SandboxEffects,
} from './actors.js';
export {
  type AttachOptions,
  attachSandbox,
  killAndClean,
  type ReattachReport,
  reattachReport,
} from './attach.js';
export { liveDevices, reconcileRecord, recoverOperation } from './attach-reconcile.js';
export { AttachedRuntime } from './attach-runtime.js';
export { capabilitiesOf, type SandboxCapabilities } from './capabilities.js';
export { ConsoleTap } from './console-tap.js';
export { parseHandle, type SandboxHandle, sandboxHandleSchema } from './detach.js';
export * from './errors.js';
export * from './events.js';
export { checkOperation, type OperationResultOf } from './operations.js';
export {
  type PersistSource,
  persisterOf,
  persistSandboxState,
  type StatePersister,
} from './persist.js';
export { SandboxRuntime, watchEventOf } from './runtime.js';
export type {
  LifecycleEvent,
  SandboxActor,
  SandboxInit,
  SandboxOptions,
  StopResult,
  VcpuThreadIds,
} from './sandbox.js';
export { DEFAULT_QMP_COMMAND_TIMEOUT_MS, openSandbox, Sandbox, sandboxSystemId } from './sandbox.js';
export { SandboxCore } from './sandbox-core.js';
export type { LaunchPaths, LaunchPlan, OperationContext, OperationProvider, SandboxSpec } from './spec.js';
export * from './state-errors.js';
export { parseState, readStateFile, STATE_FILE, stateFilePath, writeStateFile } from './state-file.js';
export * from './state-schema.js';
