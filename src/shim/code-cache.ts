// Loads a CommonJS bundle through V8's code cache kept on disk, so each short-lived shim skips compiling it.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** A loaded bundle and the means to keep its compiled code for the next process. */
export interface CachedBundle<T> {
  readonly exports: T;
  /** Whether compiled code from the cache was used. */
  readonly fromCache: boolean;
  /**
   * Writes the code compiled so far (call it late: functions compiled lazily while serving are
   * kept too) unless the cache was used, and removes older bundles' files. Atomic (temp file,
   * rename); never throws.
   */
  saveCache(): void;
}

/**
 * Runs `file` (a CommonJS bundle) as `require` would, with V8 cached data from `cacheDir` (0700).
 * The cache file is named by the Node version and the bundle file's identity (inode, size, mtime):
 * V8's own check keys on the source's length only, so a rebuilt bundle of equal length must not
 * find old code. (Hashing the 2.3 MB source instead would cost 5 ms per start.)
 *
 * @example
 * ```ts
 * const b = loadCachedBundle<typeof import('./serve-deps.js')>(bundleFile, '/run/vmactor-shim/code-cache');
 * // ... serve ...
 * b.saveCache();
 * ```
 */
export function loadCachedBundle<T>(file: string, cacheDir: string): CachedBundle<T> {
  const st = statSync(file);
  const identity = `${process.version}\0${st.ino}\0${st.size}\0${st.mtimeMs}`;
  const key = createHash('sha256').update(identity).digest('hex');
  const source = readFileSync(file, 'utf8');
  const cacheFile = join(cacheDir, `${key.slice(0, 32)}.v8cache`);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // First load of this bundle on this host (or the cache dir was cleared).
  }
  const script = new Script(Module.wrap(source), { filename: file, ...(cachedData ? { cachedData } : {}) });
  const fromCache = cachedData !== undefined && script.cachedDataRejected !== true;
  const target = { exports: {} as T };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(target.exports, target.exports, createRequire(file), target, file, dirname(file));
  return {
    exports: target.exports,
    fromCache,
    saveCache() {
      if (fromCache) return;
      try {
        mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        renameSync(tmp, cacheFile);
        for (const f of readdirSync(cacheDir)) {
          // Code of an older bundle or Node is never used again.
          if (f.endsWith('.v8cache') && join(cacheDir, f) !== cacheFile)
            rmSync(join(cacheDir, f), { force: true });
        }
      } catch {
        // The cache only makes the next start faster.
      }
    },
  };
}
