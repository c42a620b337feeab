// Typed errors of the supervisor: admission refusals and unknown sandboxes.
import type { AdmissionReason } from '../../machines/supervisor.types.js';
import { VmactorError } from '../errors/vmactor-error.js';

/** The supervisor refused a new sandbox; `reason` names the limit (`max-sandboxes`, `memory-budget`, …). */
export class AdmissionError extends VmactorError {
  override readonly name = 'AdmissionError' as const;
  readonly code = 'ERR_ADMISSION' as const;
  readonly reason: AdmissionReason;
  readonly sandboxId: string;
  constructor(sandboxId: string, reason: AdmissionReason, message: string) {
    super(message);
    this.reason = reason;
    this.sandboxId = sandboxId;
  }
}

/** No sandbox with this id is held by the supervisor. */
export class SandboxNotFoundError extends VmactorError {
  override readonly name = 'SandboxNotFoundError' as const;
  readonly code = 'ERR_SANDBOX_NOT_FOUND' as const;
  readonly sandboxId: string;
  constructor(sandboxId: string) {
    super(`No sandbox \`${sandboxId}\` on this host`);
    this.sandboxId = sandboxId;
  }
}

/** No saved template with this name under the service's template base. */
export class TemplateNotFoundError extends VmactorError {
  override readonly name = 'TemplateNotFoundError' as const;
  readonly code = 'ERR_TEMPLATE_NOT_FOUND' as const;
  readonly templateName: string;
  constructor(templateName: string, options?: { cause?: unknown }) {
    super(`No template \`${templateName}\` on this host`, options);
    this.templateName = templateName;
  }
}
