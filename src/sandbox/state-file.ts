// Reading and atomically writing a run dir's state.json (temp file, fsync, rename, fsync of the dir), validated on read.
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statfsSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { assertSocketPath, assertUnder } from '../process/run-dir.js';
import {
  StateFileInvalidError,
  StateFileMissingError,
  StateFileVersionError,
  StateWriteError,
} from './state-errors.js';
import { type SandboxState, STATE_VERSION, stateHeaderSchema, stateV1Schema } from './state-schema.js';

/** The state file's name in a run dir. */
export const STATE_FILE = 'state.json';
const TEMP_FILE = '.state.json.tmp';

/** The path of `runDir`'s state file. */
export function stateFilePath(runDir: string): string {
  return join(runDir, STATE_FILE);
}

/**
 * Writes `state` to `<runDir>/state.json` atomically and durably: a temp file (0600) written and
 * fsync'd, renamed over the old file, then the directory fsync'd (so the rename survives a power
 * loss). Synchronous on purpose: it runs inside the event that changed the state, before the caller
 * who caused the change is told (a change the caller saw is never lost by a crash right after).
 * On failure the temp file is removed, the previous state.json is untouched, and a
 * {@link StateWriteError} is thrown. `ENOENT` of the run dir itself (not created yet, or removed at
 * stop) is reported as `false`: there is nothing to persist into.
 *
 * @example
 * ```ts
 * writeStateFile(sb.runDir, state); // true
 * ```
 */
export function writeStateFile(runDir: string, state: SandboxState): boolean {
  return writeStateText(runDir, `${JSON.stringify(state, null, 1)}\n`);
}

/** statfs `f_type` of the file systems whose contents never outlive the kernel (tmpfs, ramfs). */
const VOLATILE_FS_TYPES: ReadonlySet<number> = new Set([0x01021994, 0x858458f6]);

/**
 * Whether a write into `dir` needs its fsyncs: false on tmpfs and ramfs (the default run base under
 * `/run` is one), where the page cache is the file and nothing survives the power loss an fsync
 * guards against; a process crash never needs one. True when in doubt (statfs failed).
 *
 * @example
 * ```ts
 * needsFsync('/run/vmactor'); // false: tmpfs
 * ```
 */
export function needsFsync(dir: string): boolean {
  try {
    return !VOLATILE_FS_TYPES.has(Number(statfsSync(dir).type));
  } catch {
    return true;
  }
}

/**
 * {@link writeStateFile} for a state already serialized (by {@link stateSerializer}): the same
 * temp file, fsyncs and rename; `false` when the run dir is gone. `fsync: false` (a run dir
 * where {@link needsFsync} says so) leaves out the two fsyncs, never the rename.
 *
 * @example
 * ```ts
 * writeStateText(sb.runDir, serialize(state)); // true
 * ```
 */
export function writeStateText(runDir: string, text: string, opts: { fsync?: boolean } = {}): boolean {
  const sync = opts.fsync !== false;
  const file = stateFilePath(runDir);
  const temp = join(runDir, TEMP_FILE);
  const data = Buffer.from(text);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'w', 0o600);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new StateWriteError(file, { cause });
  }
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    if (sync) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, file);
    if (sync) fsyncDir(runDir);
    return true;
  } catch (cause) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {}
    throw new StateWriteError(file, { cause });
  }
}

/** fsync of a directory (makes a rename in it durable). */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** One top-level field as `JSON.stringify(state, null, 1)` writes it (nested lines one space deeper). */
function entryText(key: string, value: unknown): string {
  return ` ${JSON.stringify(key)}: ${JSON.stringify(value, null, 1).replaceAll('\n', '\n ')}`;
}

/**
 * A serializer of one sandbox's states: the text `JSON.stringify(state, null, 1)` gives (plus the
 * final newline), with the fields named in `fixed` (the config, argv, paths: the same for the
 * sandbox's life, and most of the file) serialized on the first call only, and the fields named
 * in `immutable` (values replaced, never changed in place: the device record) serialized again
 * only when their value is another object. state.json is rewritten on every change, before the
 * caller hears of it.
 *
 * @example
 * ```ts
 * const serialize = stateSerializer(new Set(['config', 'argv']), new Set(['devices']));
 * writeStateText(runDir, serialize(state));
 * ```
 */
export function stateSerializer(
  fixed: ReadonlySet<keyof SandboxState>,
  immutable: ReadonlySet<keyof SandboxState> = new Set(),
): (state: SandboxState) => string {
  const cache = new Map<string, string>();
  const last = new Map<string, { value: unknown; text: string }>();
  const textOf = (key: string, value: unknown): string => {
    if (fixed.has(key as keyof SandboxState)) {
      let text = cache.get(key);
      if (text === undefined) {
        text = entryText(key, value);
        cache.set(key, text);
      }
      return text;
    }
    if (!immutable.has(key as keyof SandboxState)) return entryText(key, value);
    const seen = last.get(key);
    if (seen !== undefined && seen.value === value) return seen.text;
    const text = entryText(key, value);
    last.set(key, { value, text });
    return text;
  };
  return (state) => {
    const parts: string[] = [];
    for (const [key, value] of Object.entries(state)) {
      if (value !== undefined) parts.push(textOf(key, value));
    }
    return `{\n${parts.join(',\n')}\n}\n`;
  };
}

/** The problems of a zod failure as `path: message` strings. */
function problemsOf(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string[] {
  return issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
}

/**
 * Parses and validates state-file text: the header first (a newer version is a
 * {@link StateFileVersionError}, not a schema failure), then the version's schema, then the paths
 * (every one under `runDir`, sockets ≤ 107 bytes) and the run dir itself.
 *
 * @example
 * ```ts
 * const state = parseState(readFileSync(file, 'utf8'), runDir, file);
 * ```
 */
export function parseState(text: string, runDir: string, file = stateFilePath(runDir)): SandboxState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new StateFileInvalidError(file, ['not JSON (a truncated or corrupt file)'], { cause });
  }
  const header = stateHeaderSchema.safeParse(json);
  if (!header.success) throw new StateFileInvalidError(file, problemsOf(header.error.issues));
  if (header.data.version > STATE_VERSION) {
    throw new StateFileVersionError(file, header.data.version, STATE_VERSION);
  }
  const parsed = stateV1Schema.safeParse(json);
  if (!parsed.success) throw new StateFileInvalidError(file, problemsOf(parsed.error.issues));
  const state = parsed.data;
  const problems: string[] = [];
  if (state.paths.runDir !== runDir)
    problems.push(`paths.runDir: expected \`${runDir}\`, got \`${state.paths.runDir}\``);
  const under = (label: string, p: string | undefined, socket: boolean) => {
    if (p === undefined) return;
    try {
      assertUnder(runDir, p);
      if (socket) assertSocketPath(p);
    } catch (err) {
      problems.push(`${label}: ${(err as Error).message}`);
    }
  };
  for (const [key, value] of Object.entries(state.paths)) {
    if (key !== 'runDir') under(`paths.${key}`, value, key.endsWith('Socket'));
  }
  under('monitorSocket', state.monitorSocket, true);
  if (problems.length) throw new StateFileInvalidError(file, problems);
  return state;
}

/**
 * Reads `<runDir>/state.json` and validates it ({@link parseState}); a missing file is a
 * {@link StateFileMissingError}.
 *
 * @example
 * ```ts
 * const { qemu, phase } = readStateFile('/run/vmactor/web-1');
 * ```
 */
export function readStateFile(runDir: string): SandboxState {
  const file = stateFilePath(runDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') throw new StateFileMissingError(file, { cause });
    throw new StateFileInvalidError(file, [`unreadable: ${(cause as NodeJS.ErrnoException).code ?? cause}`], {
      cause,
    });
  }
  return parseState(text, runDir, file);
}
