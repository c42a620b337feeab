// The service's templates: a base dir holding one template dir per name, listed and read back checked.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sandboxIdSchema } from '../config/schema.js';
import { DEFAULT_TEMPLATE_BASE } from '../sandbox/template/boot.js';
import { TemplateFileError } from '../sandbox/template/errors.js';
import { readTemplate, TEMPLATE_FILE, type Template } from '../sandbox/template/template-file.js';
import { TemplateNotFoundError } from './errors.js';

/** One saved template as the service lists it: the record without the template VM's config. */
export interface TemplateSummary {
  /** The template's name: the id of the sandbox it was saved from (its dir under the template base). */
  readonly name: string;
  readonly dir: string;
  readonly qemu: Template['qemu'];
  readonly machine: string;
  readonly arch: string;
  readonly configHash: string;
  readonly memoryMiB: number;
  readonly vcpus: number;
  readonly stateBytes: number;
  readonly memoryBytes: number;
  readonly createdAt: string;
}

/** Default base of the service's templates (the library's: `/dev/shm/vmactor-templates`, on tmpfs). */
export const DEFAULT_SERVICE_TEMPLATE_BASE = DEFAULT_TEMPLATE_BASE;

/** The summary of a template read from `<base>/<name>`. */
export function summarizeTemplate(name: string, t: Template): TemplateSummary {
  return {
    name,
    dir: t.dir,
    qemu: t.qemu,
    machine: t.machine,
    arch: t.arch,
    configHash: t.configHash,
    memoryMiB: t.memoryMiB,
    vcpus: t.vcpus,
    stateBytes: t.stateBytes,
    memoryBytes: t.memoryBytes,
    createdAt: t.createdAt,
  };
}

/**
 * Reads the template `name` under `base` (`name` checked like a sandbox id, so it cannot leave
 * `base`); {@link TemplateNotFoundError} when there is none.
 */
export async function loadTemplate(base: string, name: string): Promise<Template> {
  if (!sandboxIdSchema.safeParse(name).success) throw new TemplateNotFoundError(name);
  try {
    return await readTemplate(join(base, name, TEMPLATE_FILE));
  } catch (err) {
    if (err instanceof TemplateFileError) throw new TemplateNotFoundError(name, { cause: err });
    throw err;
  }
}

/**
 * Every saved template under `base`, by name. Dirs without a readable `template.json` (a template
 * VM still running, whose memory file is there already) are not templates yet and are skipped.
 */
export async function listTemplates(base: string): Promise<TemplateSummary[]> {
  const names = await readdir(base).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const out: TemplateSummary[] = [];
  for (const name of names.sort()) {
    const t = await loadTemplate(base, name).catch(() => undefined);
    if (t) out.push(summarizeTemplate(name, t));
  }
  return out;
}
