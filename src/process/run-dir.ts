// Sandbox run dirs: the base dir, creation with mode 0700, derived-path and socket-path checks, removal.
import { lstatSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fitsSocketPath, isSandboxId, MAX_SOCKET_PATH_BYTES, SANDBOX_ID_RE } from '../devices/rules.js';
import { RunDirError, RunDirPathError } from './errors.js';

/**
 * Base directory of sandbox run dirs: `$VMACTOR_RUN_DIR`, else `/run/vmactor` as root, else
 * `$XDG_RUNTIME_DIR/vmactor`, else `<os.tmpdir()>/vmactor-<uid>`.
 */
export function defaultRunBase(
  env: NodeJS.ProcessEnv = process.env,
  uid: number = process.getuid?.() ?? -1,
): string {
  if (env.VMACTOR_RUN_DIR) return resolve(env.VMACTOR_RUN_DIR);
  if (uid === 0) return '/run/vmactor';
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'vmactor');
  return join(tmpdir(), `vmactor-${uid}`);
}

/** Throws {@link RunDirPathError} unless `path` resolves strictly inside `dir`. */
export function assertUnder(dir: string, path: string): string {
  const abs = resolve(dir, path);
  const rel = relative(resolve(dir), abs);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new RunDirPathError(`Expected \`${path}\` to stay under the run dir \`${dir}\``, path);
  }
  return abs;
}

/** Throws {@link RunDirPathError} when a Unix socket path is longer than 107 bytes. */
export function assertSocketPath(path: string): string {
  if (!fitsSocketPath(path)) {
    throw new RunDirPathError(
      `Expected a Unix socket path of at most ${MAX_SOCKET_PATH_BYTES} bytes, got ${Buffer.byteLength(path)} bytes: \`${path}\``,
      path,
    );
  }
  return path;
}

/** The run dir of a sandbox under `base` (checked: a valid id, and the result stays under `base`). */
export function runDirFor(base: string, sandboxId: string): string {
  if (!isSandboxId(sandboxId)) {
    throw new RunDirPathError(
      `Expected a sandbox id matching ${SANDBOX_ID_RE} (no \`..\`), got \`${sandboxId}\``,
      sandboxId,
    );
  }
  return assertUnder(resolve(base), sandboxId);
}

/**
 * Creates the sandbox run dir with mode 0700 (the base too, if missing). Fails with
 * {@link RunDirError} when it exists already: a live sandbox with the same id, or a stale one.
 */
export async function createRunDir(dir: string): Promise<string> {
  const base = resolve(dir, '..');
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      await mkdir(base, { recursive: true, mode: 0o700 });
      return createRunDir(dir);
    }
    const why =
      code === 'EEXIST' ? 'it exists already (a sandbox with this id is running, or left over)' : code;
    throw new RunDirError(`Could not create run dir \`${dir}\`: ${why}`, dir, { cause });
  }
  return dir;
}

/** Removes a run dir and everything in it (missing is fine; retried if files appear meanwhile). */
export async function removeRunDir(dir: string): Promise<void> {
  // Fast path for the usual flat dir (files and sockets): lstat, readdir, the unlinks and one rmdir,
  // synchronously. A run dir is a dozen entries on a local fs (tmpfs under /run by default): these
  // metadata calls take microseconds, less than the four thread-pool round trips of the async
  // calls on a loaded host (they are the last step of every stop). Anything unusual (a symlink in
  // place of the dir, a subdir, a late file) goes to `rm`, which retries.
  try {
    if (lstatSync(dir).isDirectory()) {
      const entries = readdirSync(dir, { withFileTypes: true });
      if (!entries.some((e) => e.isDirectory())) {
        for (const e of entries) unlinkMissingOk(join(dir, e.name));
        rmdirSync(dir);
        return;
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 5 });
}

function unlinkMissingOk(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    ignoreMissing(err);
  }
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}
