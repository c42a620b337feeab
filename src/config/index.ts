// The config layer's public surface: types, validation, kernel params, Kata TOML loading.
export { ConfigError } from './config-error.js';
export * from './types.js';
