// The sandbox layer: the public Sandbox handle and the actors binding the machine to QMP and processes.
export { bindRuntime, dumpFilePath, sandboxMachineFor } from './actors.js';
export { ConsoleTap } from './console-tap.js';
export * from './errors.js';
export { SandboxRuntime, WatchBuffer, watchEventOf } from './runtime.js';
export type { LifecycleEvent, SandboxActor, SandboxOptions, StopResult, VcpuThreadIds } from './sandbox.js';
export { openSandbox, Sandbox } from './sandbox.js';
export type { LaunchPaths, LaunchPlan, OperationContext, OperationProvider, SandboxSpec } from './spec.js';
