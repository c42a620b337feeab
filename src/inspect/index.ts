// The live inspector: inspect(target) (page + SSE on 127.0.0.1 with a token), its protocol, its recorder and errors.
export { InspectListenError, InspectOptionsError, InspectTargetError } from './errors.js';
export type { InspectOptions, Inspector, InspectTarget } from './inspect.js';
export { inspect } from './inspect.js';
export * from './protocol.js';
export type { RawStep, RecorderLimits } from './recorder.js';
export { DEFAULT_RECORDER_LIMITS, InspectRecorder } from './recorder.js';
export type { SanitizeLimits } from './sanitize.js';
export { DEFAULT_SANITIZE_LIMITS, sanitize } from './sanitize.js';
