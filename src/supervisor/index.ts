// The supervisor layer: recovery of a run base at boot (more of the service's supervisor lands here).
export { type RecoverOptions, type RecoveryOutcome, recoverSandboxes } from './recover.js';
