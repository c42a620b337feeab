// The supervisor layer: many sandboxes of one host, admission, bounded starts, one event stream.
export { AdmissionError, SandboxNotFoundError, TemplateNotFoundError } from './errors.js';
export { EventLog, type Replay, type Sequenced } from './event-log.js';
export { type RecoverOptions, type RecoveryOutcome, reattachRunBase, recoverSandboxes } from './recover.js';
export { StartGate } from './start-gate.js';
export {
  type CreateOptions,
  defaultMemoryBudgetMiB,
  type HostEvent,
  openSupervisor,
  type RecoverStep,
  type RecoveryHost,
  type SandboxSummary,
  Supervisor,
  type SupervisorOptions,
} from './supervisor.js';
export {
  DEFAULT_SERVICE_TEMPLATE_BASE,
  listTemplates,
  loadTemplate,
  type TemplateSummary,
} from './templates.js';
export { type WireError, type WireEvent, wireError, wireEvent } from './wire-event.js';
