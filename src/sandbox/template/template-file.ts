// The Template record (`template.json`): what a saved VM template is, written atomically, read back checked.
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { ValidatedConfig } from '../../config/types.js';
import { TemplateFileError } from './errors.js';

/** Version of the `template.json` layout. */
export const TEMPLATE_FILE_VERSION = 1;
/** Name of the metadata file in a template dir. */
export const TEMPLATE_FILE = 'template.json';
/** Name of the device state file in a template dir (Kata's `state`). */
export const STATE_FILE = 'devices.state';
/** Name of the memory file when `memoryPath` defaults into the template dir (Kata's `memory`). */
export const MEMORY_FILE = 'memory';

/**
 * A saved VM template (Kata's factory `template`): the template VM's guest memory file and device
 * state, with what a clone must match. File names are relative to `dir` (absolute when the memory
 * file was configured outside it).
 */
export interface Template {
  readonly version: typeof TEMPLATE_FILE_VERSION;
  /** The directory holding `template.json` (absolute; filled in when read). */
  readonly dir: string;
  readonly qemu: { readonly version: string; readonly package: string };
  /** QEMU machine type (`q35`, …) and arch of the template VM. */
  readonly machine: string;
  readonly arch: string;
  /** The template VM's validated config (a clone's config is checked against it). */
  readonly config: ValidatedConfig;
  /** SHA-256 of the QEMU argv planned for `config` with id, paths and template fields cleared. */
  readonly configHash: string;
  readonly memoryFile: string;
  readonly stateFile: string;
  readonly memoryMiB: number;
  readonly vcpus: number;
  /** Bytes of the state file and of the memory file. */
  readonly stateBytes: number;
  readonly memoryBytes: number;
  /** ISO time of the save. */
  readonly createdAt: string;
}

/** The shape of `template.json` (the service's template schemas are derived from it). */
export const templateSchema = z.object({
  version: z.literal(TEMPLATE_FILE_VERSION),
  qemu: z.object({ version: z.string(), package: z.string() }),
  machine: z.string(),
  arch: z.string(),
  config: z.object({
    id: z.string(),
    hypervisor: z.record(z.string(), z.unknown()),
    devices: z.array(z.unknown()),
  }),
  configHash: z.string().regex(/^[0-9a-f]{64}$/),
  memoryFile: z.string().min(1),
  stateFile: z.string().min(1),
  memoryMiB: z.number().int().positive(),
  vcpus: z.number().int().positive(),
  stateBytes: z.number().int().nonnegative(),
  memoryBytes: z.number().int().nonnegative(),
  createdAt: z.string(),
});

/** Absolute paths of a template's memory and state files. */
export function templatePaths(t: Template): { memoryPath: string; statePath: string } {
  const abs = (f: string) => (isAbsolute(f) ? f : join(t.dir, f));
  return { memoryPath: abs(t.memoryFile), statePath: abs(t.stateFile) };
}

/** Writes `template.json` atomically: a temp file, fsync, rename, fsync of the dir. */
export async function writeTemplateFile(t: Template): Promise<string> {
  const path = join(t.dir, TEMPLATE_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  const { dir: _dir, ...record } = t;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(record, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const d = await open(dirname(path), 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
  return path;
}

/**
 * Reads a template from its dir (or its `template.json`): the record checked, paths resolved.
 * Throws {@link TemplateFileError} when it is missing or not a vmactor template.
 *
 * @example
 * ```ts
 * const template = await readTemplate('/dev/shm/vmactor/tpl');
 * await using clone = await createSandbox(config, { template });
 * ```
 */
export async function readTemplate(dirOrFile: string): Promise<Template> {
  const file = dirOrFile.endsWith('.json') ? resolve(dirOrFile) : join(resolve(dirOrFile), TEMPLATE_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new TemplateFileError(file, 'cannot be read as JSON', { cause });
  }
  const parsed = templateSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new TemplateFileError(
      file,
      `is not a vmactor template (${first ? `${first.path.join('.')}: ${first.message}` : 'invalid'})`,
    );
  }
  return { ...(parsed.data as unknown as Omit<Template, 'dir'>), dir: dirname(file) };
}
