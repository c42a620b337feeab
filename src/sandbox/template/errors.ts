// Typed errors of VM templates: saving one, booting from one, the migration between them.
import { VmactorError } from '../../errors/vmactor-error.js';

/** QEMU reported the migration `failed`; `errorDesc` is `query-migrate`'s `error-desc` (read once). */
export class MigrationFailedError extends VmactorError {
  override readonly name = 'MigrationFailedError' as const;
  readonly code = 'ERR_MIGRATION_FAILED' as const;
  readonly direction: 'outgoing' | 'incoming';
  readonly errorDesc: string | undefined;
  constructor(
    direction: 'outgoing' | 'incoming',
    errorDesc: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(`The ${direction} migration failed${errorDesc ? `: ${errorDesc}` : ''}`, options);
    this.direction = direction;
    this.errorDesc = errorDesc;
  }
}

/** QEMU reported the migration `cancelled` (someone sent `migrate_cancel`). */
export class MigrationCancelledError extends VmactorError {
  override readonly name = 'MigrationCancelledError' as const;
  readonly code = 'ERR_MIGRATION_CANCELLED' as const;
  constructor(direction: 'outgoing' | 'incoming') {
    super(`The ${direction} migration was cancelled`);
  }
}

/** No `completed`/`failed` MIGRATION event within the deadline (an outgoing one is then cancelled). */
export class MigrationTimeoutError extends VmactorError {
  override readonly name = 'MigrationTimeoutError' as const;
  readonly code = 'ERR_MIGRATION_TIMEOUT' as const;
  readonly timeoutMs: number;
  constructor(direction: 'outgoing' | 'incoming', timeoutMs: number) {
    super(`The ${direction} migration did not complete within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** A clone's config does not match its template's (argv hash, ignoring id, paths and vCPU/memory deltas). */
export class TemplateMismatchError extends VmactorError {
  override readonly name = 'TemplateMismatchError' as const;
  readonly code = 'ERR_TEMPLATE_MISMATCH' as const;
  readonly expectedHash: string;
  readonly actualHash: string;
  constructor(message: string, expectedHash: string, actualHash: string) {
    super(message);
    this.expectedHash = expectedHash;
    this.actualHash = actualHash;
  }
}

/** The template's device state could not be loaded (missing, unreadable, corrupt): QEMU's message is in `message` and `qemuMessage`. */
export class TemplateStateError extends VmactorError {
  override readonly name = 'TemplateStateError' as const;
  readonly code = 'ERR_TEMPLATE_STATE' as const;
  readonly statePath: string;
  /** What QEMU printed about it (empty when QEMU never saw the file). */
  readonly qemuMessage: string;
  constructor(statePath: string, qemuMessage: string, options?: { cause?: unknown }) {
    const why = qemuMessage || (options?.cause instanceof Error ? options.cause.message : '');
    super(`The template state \`${statePath}\` could not be loaded${why ? `: ${why}` : ''}`, options);
    this.statePath = statePath;
    this.qemuMessage = qemuMessage;
  }
}

/** A template file (`template.json`) is missing or not a vmactor template. */
export class TemplateFileError extends VmactorError {
  override readonly name = 'TemplateFileError' as const;
  readonly code = 'ERR_TEMPLATE_FILE' as const;
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(`Template \`${path}\`: ${message}`, options);
    this.path = path;
  }
}

/** `saveTemplate` on a sandbox that was not created to become a template (`bootToBeTemplate`), or with a bad dir. */
export class TemplateInputError extends VmactorError {
  override readonly name = 'TemplateInputError' as const;
  readonly code = 'ERR_TEMPLATE_INPUT' as const;
}
