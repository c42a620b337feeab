// The QMP layer: framing, the client (one owner of a QMP socket), typed commands, fd passing.

export type { QmpConnectOptions, QmpExecuteOptions } from './client.js';
export { QmpClient } from './client.js';
export type { QmpVersion } from './client-wire.js';
export { QMP_DEFAULT_TIMEOUT_MS } from './client-wire.js';
export type * from './commands.js';
export {
  QmpAbortError,
  QmpCommandError,
  QmpDisconnectedError,
  QmpFdPassingError,
  QmpOptionError,
  QmpProtocolError,
  QmpSchemaUnavailableError,
  QmpTimeoutError,
} from './errors.js';
export type { FdPassingBinding } from './fd-passing.js';
export { fdPassingBinding, socketFd } from './fd-passing.js';
export type { QmpFramerSink, QmpWireObject } from './framing.js';
export { QMP_MAX_LINE_BYTES, QmpFramer } from './framing.js';
export { type QmpObserver, setQmpObserver } from './observer.js';
export type { DevicePropertyLister, QmpDeviceProperty, QmpSchemaProblem } from './schema-check.js';
export { QmpSchema, QmpSchemaError } from './schema-check.js';
export {
  QMP_SCHEMA_CHECK_ENV,
  qmpSchemaCacheStats,
  qmpSchemaCheckDefault,
  takeQmpSchemaViolations,
} from './schema-registry.js';
export type { QmpCloseInfo, QmpEvent, QmpMessage } from './types.js';
export type { QmpWaitForOptions } from './wait-for.js';
