import { VmactorError } from '../errors/vmactor-error.js';

/** QEMU answered a command with `{"error": {"class", "desc"}}`. */
export class QmpCommandError extends VmactorError {
  override readonly name = 'QmpCommandError' as const;
  readonly code = 'ERR_QMP_COMMAND' as const;
  /** QEMU's error class, e.g. `GenericError`, `CommandNotFound`, `DeviceNotFound`. */
  readonly qmpClass: string;
  /** QEMU's human-readable description. */
  readonly desc: string;
  /** The command that failed. */
  readonly command: string;

  constructor(command: string, qmpClass: string, desc: string) {
    super(`QMP command \`${command}\` failed: ${qmpClass}: ${desc}`);
    this.command = command;
    this.qmpClass = qmpClass;
    this.desc = desc;
  }
}

/** A command (or the greeting, or an awaited event) did not arrive before its deadline. */
export class QmpTimeoutError extends VmactorError {
  override readonly name = 'QmpTimeoutError' as const;
  readonly code = 'ERR_QMP_TIMEOUT' as const;
  /** What was awaited: a command name, `greeting`, or `event after <command>`. */
  readonly waitingFor: string;
  /** The deadline that expired, in milliseconds. */
  readonly timeoutMs: number;

  constructor(waitingFor: string, timeoutMs: number) {
    super(`QMP: no answer for \`${waitingFor}\` within ${timeoutMs} ms`);
    this.waitingFor = waitingFor;
    this.timeoutMs = timeoutMs;
  }
}

/** The QMP stream ended (EOF, socket error, protocol error, or `close()`); terminal. */
export class QmpDisconnectedError extends VmactorError {
  override readonly name = 'QmpDisconnectedError' as const;
  readonly code = 'ERR_QMP_DISCONNECTED' as const;
  /** Why: `eof` (peer closed), `error` (socket/protocol error, see `cause`), `closed` (local close). */
  readonly reason: 'eof' | 'error' | 'closed';

  constructor(reason: 'eof' | 'error' | 'closed', options?: { cause?: unknown; command?: string }) {
    const what = options?.command ? ` while \`${options.command}\` was pending` : '';
    const why =
      reason === 'eof'
        ? 'QEMU closed the QMP socket'
        : reason === 'closed'
          ? 'the QMP client was closed'
          : 'the QMP connection failed';
    super(
      `QMP disconnected${what}: ${why}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.reason = reason;
  }
}

/** The peer broke the protocol: not JSON, not an object, a line over the cap, a bad greeting. */
export class QmpProtocolError extends VmactorError {
  override readonly name = 'QmpProtocolError' as const;
  readonly code = 'ERR_QMP_PROTOCOL' as const;
  /** A short excerpt (at most 120 bytes) of the offending input, for logs. */
  readonly excerpt: string;

  constructor(message: string, excerpt = '', options?: { cause?: unknown }) {
    super(message, options);
    this.excerpt = excerpt;
  }
}

/** A command was abandoned because its `AbortSignal` fired. */
export class QmpAbortError extends VmactorError {
  override readonly name = 'QmpAbortError' as const;
  readonly code = 'ERR_QMP_ABORTED' as const;

  constructor(command: string, reason?: unknown) {
    super(`QMP command \`${command}\` was aborted`, reason === undefined ? undefined : { cause: reason });
  }
}

/** Sending file descriptors (SCM_RIGHTS) failed or is unavailable (native addon missing). */
export class QmpFdPassingError extends VmactorError {
  override readonly name = 'QmpFdPassingError' as const;
  readonly code = 'ERR_QMP_FD_PASSING' as const;
}

/** An option of the QMP client is out of range, e.g. a negative `timeoutMs`. */
export class QmpOptionError extends VmactorError {
  override readonly name = 'QmpOptionError' as const;
  readonly code = 'ERR_QMP_INVALID_OPTION' as const;
}

/**
 * The schema check is on but this QEMU's schema could not be read (`query-qmp-schema` or
 * `query-target` failed); the connection is refused rather than left unchecked.
 */
export class QmpSchemaUnavailableError extends VmactorError {
  override readonly name = 'QmpSchemaUnavailableError' as const;
  readonly code = 'ERR_QMP_SCHEMA_UNAVAILABLE' as const;
}
