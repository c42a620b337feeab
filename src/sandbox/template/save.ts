// Saving a template: the `save-template` operation (outgoing migration to a state fd) and `saveTemplate` around it.
import { constants } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import type { SaveTemplateOperation } from '../../../machines/operation.types.js';
import type { RunOperationInput } from '../../../machines/sandbox.types.js';
import type { Sandbox } from '../sandbox.js';
import type { OperationContext } from '../spec.js';
import { TemplateInputError } from './errors.js';
import { followMigration, setMigrationCapabilities } from './migration.js';
import { STATE_FILE, TEMPLATE_FILE_VERSION, type Template, writeTemplateFile } from './template-file.js';

/** Deadline of the outgoing migration (device state only: guest memory stays in the shared file). */
export const SAVE_TIMEOUT_MS = 60_000;
/** Name QEMU knows the outgoing state fd by (`getfd`). */
const SAVE_FD_NAME = 'vmactor-save';

/** What the `save-template` operation resolves with. */
export interface SaveTemplateResult {
  readonly kind: 'save-template';
  readonly statePath: string;
  readonly stateBytes: number;
}

/**
 * Runs a `save-template` operation on a paused template VM (Kata's qemu.go `saveSandbox`, without
 * its shell): `migrate-set-capabilities` (`x-ignore-shared`, `events`), the state file opened here
 * (O_NOFOLLOW, 0600) and passed with `getfd`, `migrate fd:…`, then `completed` / `failed` /
 * `cancelled` from `MIGRATION` events only. STOP pre-empting it sends `migrate_cancel`.
 */
export async function runSaveTemplate(
  input: RunOperationInput,
  op: SaveTemplateOperation,
  ctx: OperationContext,
): Promise<SaveTemplateResult> {
  const { qmp, signal } = ctx;
  await setMigrationCapabilities(qmp, signal);
  const fh = await open(
    op.statePath,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await qmp.execute('getfd', { fdname: SAVE_FD_NAME }, { fds: [fh.fd], signal });
  } finally {
    await fh.close();
  }
  input.reportApplied();
  try {
    await followMigration(qmp, () => qmp.execute('migrate', { uri: `fd:${SAVE_FD_NAME}` }, { signal }), {
      direction: 'outgoing',
      timeoutMs: SAVE_TIMEOUT_MS,
      signal,
      onProgress: (p) => ctx.emit?.({ type: 'migration', sandboxId: input.sandboxId, ...p, at: Date.now() }),
    });
  } catch (err) {
    // A `migrate` QEMU refused leaves the named fd with QEMU; a started one consumed it. The
    // partial state file is removed: no template was saved.
    qmp.execute('closefd', { fdname: SAVE_FD_NAME }, { timeoutMs: 2_000 }).catch(() => undefined);
    await rm(op.statePath, { force: true }).catch(() => undefined);
    throw err;
  }
  const written = await open(op.statePath, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    await written.sync();
    return { kind: 'save-template', statePath: op.statePath, stateBytes: (await written.stat()).size };
  } finally {
    await written.close();
  }
}

/** Options of `sb.saveTemplate`. */
export interface SaveTemplateOptions {
  /** Keep the template VM (paused, in `postmigrate`) instead of stopping it. Default false. */
  readonly keepRunning?: boolean;
}

/**
 * `sb.saveTemplate(dir)`: pause, save the device state into `dir` (the memory file is already the
 * template VM's guest RAM), write `template.json` atomically, stop the template VM.
 */
export async function saveSandboxTemplate(
  sb: Sandbox,
  dir: string | undefined,
  options: SaveTemplateOptions = {},
): Promise<Template> {
  const config = sb.config;
  const facts = sb.attachments.template;
  if (!config?.hypervisor.bootToBeTemplate || !facts) {
    throw new TemplateInputError(
      'Expected a sandbox created with `hypervisor.bootToBeTemplate: true` (its memory is the shared file a template needs)',
    );
  }
  const hv = config.hypervisor;
  const target = dir ?? dirname(hv.memoryPath);
  if (!isAbsolute(target)) {
    throw new TemplateInputError(`Expected the template dir to be an absolute path, got \`${target}\``);
  }
  const qmp = sb.qmp;
  if (!qmp || (sb.phase !== 'running' && sb.phase !== 'paused')) {
    throw new TemplateInputError(`Expected a running or paused template VM, got \`${sb.phase}\``);
  }
  await mkdir(target, { recursive: true, mode: 0o700 });
  const version = await qmp.execute('query-version', undefined, { timeoutMs: 10_000 });
  await sb.pause();
  const statePath = join(target, STATE_FILE);
  facts.files.stateFiles.push(statePath);
  const saved = await sb.operate({ kind: 'save-template', statePath, memoryPath: hv.memoryPath });
  const { stateBytes } = saved as SaveTemplateResult;
  const rel = relative(target, hv.memoryPath);
  const memoryFile = rel.startsWith('..') || isAbsolute(rel) ? hv.memoryPath : rel;
  const template: Template = {
    version: TEMPLATE_FILE_VERSION,
    dir: target,
    qemu: {
      version: `${version.qemu.major}.${version.qemu.minor}.${version.qemu.micro}`,
      package: version.package,
    },
    machine: facts.machine,
    arch: facts.arch,
    config,
    configHash: facts.hash,
    memoryFile,
    stateFile: STATE_FILE,
    memoryMiB: hv.memorySize,
    vcpus: hv.numVCPUs,
    stateBytes,
    memoryBytes: (await stat(hv.memoryPath)).size,
    createdAt: new Date().toISOString(),
  };
  await writeTemplateFile(template);
  facts.files.saved = true;
  if (!options.keepRunning) await sb.stop();
  return template;
}
