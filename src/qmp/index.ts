// The QMP layer: framing, the client (one owner of a QMP socket), typed commands, fd passing.

export type { QmpConnectOptions, QmpExecuteOptions } from './client.js';
export { QmpClient } from './client.js';
export type { QmpCommandSample } from './command-samples.js';
export { qmpCommandSamples, qmpSample } from './command-samples.js';
export type * from './commands.js';
export {
  QmpAbortError,
  QmpCommandError,
  QmpDisconnectedError,
  QmpFdPassingError,
  QmpProtocolError,
  QmpTimeoutError,
} from './errors.js';
export type { FdPassingBinding } from './fd-passing.js';
export { fdPassingBinding, socketFd } from './fd-passing.js';
export type { QmpFramerSink, QmpWireObject } from './framing.js';
export { QMP_MAX_LINE_BYTES, QmpFramer } from './framing.js';
export type { QmpDeviceProperty } from './schema-check.js';
export { QmpSchema, QmpSchemaMismatchError } from './schema-check.js';
export type { QmpCloseInfo, QmpEvent, QmpMessage } from './types.js';
