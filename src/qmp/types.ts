/** A QMP event with QEMU's timestamp converted to a `Date` (millisecond precision). */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: Date;
}

/** The greeting QEMU sends first: `{"QMP": {"version": ..., "capabilities": [...]}}`. */
export interface QmpGreetingMessage {
  QMP: {
    version: { qemu: { major: number; minor: number; micro: number }; package: string };
    capabilities: string[];
  };
}

/** An event as it arrives on the wire. */
export interface QmpEventMessage {
  event: string;
  data?: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

/** A successful reply. */
export interface QmpReturnMessage {
  return: unknown;
  id?: unknown;
}

/** An error reply. */
export interface QmpErrorMessage {
  error: { class: string; desc: string };
  id?: unknown;
}

/** Any message QEMU sends, as parsed from one line. */
export type QmpMessage = QmpGreetingMessage | QmpEventMessage | QmpReturnMessage | QmpErrorMessage;

/** How a QMP connection ended (see `QmpClient.closed`). */
export interface QmpCloseInfo {
  /** `eof`: the peer closed; `error`: socket or protocol error; `closed`: `close()` was called. */
  reason: 'eof' | 'error' | 'closed';
  /** True after `expectDisconnect()` (e.g. `quit`) or `close()`: not a crash. */
  expected: boolean;
  /** The socket or protocol error behind it, if any (ECONNRESET counts as `eof` but is kept here). */
  error?: Error;
}
