// The pure machines of vmactor, by name (the visualizations and path-coverage tests iterate over this).

import { factoryMachine } from './factory.machine.js';
import { sandboxMachine } from './sandbox.machine.js';
import { supervisorMachine } from './supervisor.machine.js';

export { type FactoryMachine, factoryMachine, factorySetup } from './factory.machine.js';
export * from './factory.types.js';
export * from './operation.types.js';
export { type SandboxMachine, sandboxMachine, sandboxSetup } from './sandbox.machine.js';
export * from './sandbox.types.js';
export { type SupervisorMachine, supervisorMachine, supervisorSetup } from './supervisor.machine.js';
export * from './supervisor.types.js';

/** Every machine definition, keyed by the file stem used under visualizations/. */
export const machines = {
  factory: factoryMachine,
  sandbox: sandboxMachine,
  supervisor: supervisorMachine,
} as const;
