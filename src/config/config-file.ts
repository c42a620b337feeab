// loadConfigFile: a JSON SandboxConfig or a Kata configuration-qemu.toml from disk -> validated config or ConfigError.
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { ConfigError } from './config-error.js';
import { loadKataToml } from './kata-toml.js';
import type { Arch, ConfigWarning, ValidatedConfig } from './types.js';
import { type ValidateOptions, validateConfig } from './validate.js';

/** Which loader read a config. */
export type ConfigFormat = 'json' | 'kata-toml';

/** A validated config plus where it came from and what the loader ignored. */
export interface LoadedConfig extends ValidatedConfig {
  readonly source: { readonly path: string; readonly format: ConfigFormat };
  readonly warnings: readonly ConfigWarning[];
}

/** Options of `loadConfigFile` / `parseConfigText`. */
export interface LoadConfigOptions extends ValidateOptions {
  /** Sandbox id for a Kata TOML (which has none); default: the file name stem, sanitized, else `kata`. */
  readonly id?: string;
  /** Force a format instead of detecting it from the extension or content. */
  readonly format?: ConfigFormat;
  /** Guest arch for a Kata TOML (default this host's). */
  readonly arch?: Arch;
}

/** Detect the format: `.json` / `.toml` extension, else a leading `{` means JSON. */
export function detectConfigFormat(path: string, text: string): ConfigFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.toml' || ext === '.in') return 'kata-toml';
  return text.trimStart().startsWith('{') ? 'json' : 'kata-toml';
}

function idFromPath(path: string): string {
  const stem = basename(path)
    .replace(/\.[^.]*$/, '')
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/\.\.+/g, '.');
  const id = stem.replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return id === '' ? 'kata' : id;
}

/**
 * Parse and validate config text (no disk access). JSON is vmactor's own SandboxConfig; TOML is
 * Kata's configuration-qemu.toml. Throws `ConfigError` for syntax and validation problems alike.
 *
 * @example
 * const cfg = parseConfigText('{"id":"a","hypervisor":{"kernelPath":"/k","initrdPath":"/i"}}', 'a.json');
 */
export function parseConfigText(text: string, path: string, opts: LoadConfigOptions = {}): LoadedConfig {
  const format = opts.format ?? detectConfigFormat(path, text);
  if (format === 'json') {
    let input: unknown;
    try {
      input = JSON.parse(text);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new ConfigError([{ path: '', message: `Expected valid JSON, got ${detail}` }], {
        cause: err,
        source: path,
      });
    }
    try {
      return { ...validateConfig(input, opts), source: { path, format }, warnings: [] };
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(err.issues, { cause: err, source: path });
      throw err;
    }
  }
  const { config, ignoredKeys } = loadKataToml(text, {
    ...opts,
    id: opts.id ?? idFromPath(path),
    source: path,
  });
  return { ...config, source: { path, format }, warnings: ignoredKeys };
}

/**
 * Read a config file — vmactor JSON or Kata TOML, by extension or content — and validate it.
 * Used by `vmactor plan --config FILE`. Throws `ConfigError` (also for an unreadable file).
 * Host paths inside must be absolute; their existence is checked at launch, not here.
 *
 * @example
 * const cfg = await loadConfigFile('/etc/kata-containers/configuration-qemu.toml', { id: 'sb1' });
 * for (const w of cfg.warnings) console.warn(`${w.key}: ${w.reason}`);
 */
export async function loadConfigFile(path: string, opts: LoadConfigOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(
      [{ path: '', message: `Expected a readable config file at \`${path}\`, got ${code}` }],
      {
        cause: err,
        source: path,
      },
    );
  }
  return parseConfigText(text, path, opts);
}
