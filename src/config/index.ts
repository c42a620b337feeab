// The config layer's public surface: types, the knob table, validation, schemas, kernel params, Kata TOML loading.

export { ConfigError } from './config-error.js';
export type { ConfigFormat, LoadConfigOptions, LoadedConfig } from './config-file.js';
export { detectConfigFormat, loadConfigFile, parseConfigText } from './config-file.js';
export * from './defaults.js';
export type { DeviceSpecResult } from './devices.js';
export { parseDeviceSpec } from './devices.js';
export type { KataTomlOptions, KataTomlResult } from './kata-toml.js';
export { KATA_IGNORED_KEYS, KATA_KEY_MAP, loadKataToml, parseKataToml } from './kata-toml.js';
export * from './kernel-params.js';
export type { HypervisorKnobs, Knob, KnobFacts } from './knobs.js';
export { HYPERVISOR_KNOBS } from './knobs.js';
export { sandboxConfigJsonSchema, sandboxConfigSchema } from './schema.js';
export * from './types.js';
export type { ValidateOptions } from './validate.js';
export { DEVICE_ID_RE, HYPERVISOR_KEYS, SANDBOX_ID_RE, validateConfig } from './validate.js';
