// Options of the QMP client: of the connection and of one command.
import type { Logger } from 'pino';

/** Options of {@link QmpClient.connect}. */
export interface QmpConnectOptions {
  /** Deadline for the greeting, `qmp_capabilities` and the schema fetch (default 10 000 ms). */
  greetingTimeoutMs?: number;
  /** Receives warnings (unknown reply ids, stray messages, schema violations) and debug lines. */
  logger?: Logger;
  /** Aborts the handshake; the socket is destroyed. */
  signal?: AbortSignal;
  /**
   * Deadline of commands that give no `timeoutMs` of their own (default 30 000 ms). `Infinity`
   * means no deadline and must be asked for explicitly.
   */
  defaultTimeoutMs?: number;
  /**
   * Validates every command against this QEMU's `query-qmp-schema` before writing it; a mismatch
   * rejects with `QmpSchemaError` and nothing is sent. The schema is fetched on connect, once per
   * QEMU version/package/target in this process. Default: `VMACTOR_QMP_SCHEMA_CHECK=1` (on for the
   * test suite). When on and the schema cannot be read, `connect` rejects with
   * `QmpSchemaUnavailableError`: a peer without `query-qmp-schema` (a fake) must pass `false`.
   */
  schemaCheck?: boolean;
  /**
   * Called with every command the caller sends (not the client's own handshake queries) before
   * the schema check and before it is written; throwing rejects the command without sending it.
   */
  commandValidator?: (command: string, args: Record<string, unknown> | undefined) => void;
}

/** Options of one command. */
export interface QmpExecuteOptions {
  /**
   * Deadline for the reply (default: the client's `defaultTimeoutMs`, 30 s); on expiry the command
   * rejects with `QmpTimeoutError` and its late reply is dropped. `Infinity`: no deadline.
   */
  timeoutMs?: number;
  /** Abandons the command (rejects with `QmpAbortError`); a late reply is dropped. */
  signal?: AbortSignal;
  /** File descriptors sent with the command's own bytes (SCM_RIGHTS), e.g. for `getfd` / `add-fd`. */
  fds?: readonly number[];
}
