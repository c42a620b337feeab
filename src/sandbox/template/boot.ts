// Booting from a template, and booting to become one: the config createSandbox validates, the checks before launch, the launch hooks.
import { randomBytes } from 'node:crypto';
import { constants, statfs } from 'node:fs';
import { access, mkdir, open, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { ConfigError } from '../../config/config-error.js';
import type { SandboxConfig, ValidatedConfig } from '../../config/types.js';
import { QemuExitedEarlyError } from '../../process/errors.js';
import type { Sandbox } from '../sandbox.js';
import type { LaunchHooks, LaunchPlan } from '../spec.js';
import { type HashHostFacts, type TemplatePlanFacts, templatePlanFacts } from './config-hash.js';
import { TemplateMismatchError, TemplateStateError } from './errors.js';
import { followMigration, setMigrationCapabilities } from './migration.js';
import { formatVersion, olderThan, qemuBinaryVersion, TEMPLATE_MIN_QEMU } from './qemu-version.js';
import { MEMORY_FILE, readTemplate, type Template, templatePaths } from './template-file.js';

/** Where a template VM's memory goes when neither `memoryPath` nor a template dir is given. */
export const DEFAULT_TEMPLATE_BASE = '/dev/shm/vmactor-templates';
/** Deadline of a clone's incoming migration (the state file is small: device state only). */
export const INCOMING_TIMEOUT_MS = 30_000;
/** Name QEMU knows the state fd by (`getfd`). */
export const STATE_FD_NAME = 'vmactor-state';
const TMPFS_MAGIC = 0x01021994;

/** What createSandbox's template options ask for. */
export interface TemplateBootOptions {
  /** Boot from this template (a clone). */
  readonly template?: Template;
  /** `bootToBeTemplate` without `memoryPath`: the memory file goes to `<templateDir>/memory`. */
  readonly templateDir?: string;
}

/** vCPUs and memory a clone asked for beyond its template's (hot-added once it runs, as Kata's factory `GetVM`). */
export interface CloneDeltas {
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** The totals asked for. */
  readonly targetVcpus: number;
  readonly targetMemoryMiB: number;
}

/**
 * The config createSandbox validates: a clone gets the seeds' `bootFromTemplate`, `memoryPath`
 * and `devicesStatePath` from the template and boots with the template's vCPUs and memory; a VM
 * to become a template without `memoryPath` gets `<templateDir>/memory` (default
 * `/dev/shm/vmactor-templates/<id>/memory`, on tmpfs).
 */
export function templateConfigOf(config: SandboxConfig, opts: TemplateBootOptions): SandboxConfig {
  const hv = config.hypervisor ?? {};
  const t = opts.template;
  if (t) {
    const { memoryPath, statePath } = templatePaths(t);
    return {
      ...config,
      hypervisor: {
        ...hv,
        bootToBeTemplate: false,
        bootFromTemplate: true,
        memoryPath,
        devicesStatePath: statePath,
        numVCPUs: t.vcpus,
        memorySize: t.memoryMiB,
      },
    };
  }
  if (hv.bootToBeTemplate === true && !hv.memoryPath) {
    const dir = opts.templateDir ?? join(DEFAULT_TEMPLATE_BASE, config.id);
    return { ...config, hypervisor: { ...hv, memoryPath: join(dir, MEMORY_FILE) } };
  }
  return config;
}

/**
 * What a clone asked for beyond its template; fewer vCPUs or less memory than the template cannot
 * be had (nothing is hot-removed from a clone) and is a {@link TemplateMismatchError}.
 */
export function cloneDeltas(config: SandboxConfig, t: Template): CloneDeltas {
  const vcpus = config.hypervisor?.numVCPUs ?? t.vcpus;
  const mem = config.hypervisor?.memorySize ?? t.memoryMiB;
  if (vcpus < t.vcpus || mem < t.memoryMiB) {
    throw new TemplateMismatchError(
      `Expected at least the template's ${t.vcpus} vCPUs and ${t.memoryMiB} MiB, got ${vcpus} vCPUs and ${mem} MiB (a clone can only hot-add)`,
      t.configHash,
      '',
    );
  }
  return { vcpus: vcpus - t.vcpus, memoryMiB: mem - t.memoryMiB, targetVcpus: vcpus, targetMemoryMiB: mem };
}

/**
 * Checks before anything launches: QEMU new enough for templating (4.1: `x-ignore-shared`,
 * else a `ConfigError`), and a clone's config planning to the template's argv hash (else a
 * {@link TemplateMismatchError} — never a silent cold boot).
 */
export async function checkTemplateBoot(
  validated: ValidatedConfig,
  given: Template | undefined,
  host: HashHostFacts,
): Promise<TemplatePlanFacts | undefined> {
  const hv = validated.hypervisor;
  if (!hv.bootToBeTemplate && !hv.bootFromTemplate) return undefined;
  // The seeds' fields alone (bootFromTemplate + memoryPath + devicesStatePath): a template.json
  // beside the state file is checked the same way; without one there is nothing to compare.
  const t =
    given ??
    (hv.bootFromTemplate
      ? await readTemplate(dirname(hv.devicesStatePath)).catch(() => undefined)
      : undefined);
  const facts = templatePlanFacts(validated, host);
  const version = await qemuBinaryVersion(facts.binary);
  if (version && olderThan(version, TEMPLATE_MIN_QEMU)) {
    throw new ConfigError([
      {
        path: 'hypervisor.hypervisorPath',
        message: `Expected QEMU ≥ ${formatVersion(TEMPLATE_MIN_QEMU)} for VM templating (x-ignore-shared), got \`${formatVersion(version)}\``,
      },
    ]);
  }
  if (t && facts.hash !== t.configHash) {
    throw new TemplateMismatchError(
      `Expected a config matching template \`${t.config.id}\` (argv hash ${t.configHash.slice(0, 12)}…), got ${facts.hash.slice(0, 12)}… — machine, devices, kernel or knobs differ`,
      t.configHash,
      facts.hash,
    );
  }
  return facts;
}

const statfsAsync = promisify(statfs);

/** What a VM to become a template created for its memory (removed again when it stops unsaved). */
export interface TemplateVmFiles {
  /** The memory file did not exist before the launch (QEMU created it). */
  createdFile: boolean;
  /** The first dir `mkdir -p` created for it, if any. */
  createdDir: string | undefined;
  /** A template was saved from this VM: its files stay. */
  saved: boolean;
  /** State files a save is writing (removed at teardown unless saved). */
  readonly stateFiles: string[];
}

/** A fresh record for {@link withTemplateLaunch} / {@link removeUnsavedTemplateFiles}. */
export function templateVmFiles(): TemplateVmFiles {
  return { createdFile: false, createdDir: undefined, saved: false, stateFiles: [] };
}

/** The memory file's dir exists (0700); a dir not on tmpfs is allowed but logged (Kata keeps templates on tmpfs). */
async function prepareMemoryDir(memoryPath: string, logger: Logger, files: TemplateVmFiles): Promise<void> {
  const dir = dirname(memoryPath);
  files.createdDir = await mkdir(dir, { recursive: true, mode: 0o700 });
  files.createdFile = await access(memoryPath).then(
    () => false,
    () => true,
  );
  const st = await statfsAsync(dir).catch(() => undefined);
  if (st && st.type !== TMPFS_MAGIC) {
    logger.warn({ dir }, 'template memory is not on tmpfs: saving and cloning will touch the disk');
  }
}

/**
 * A VM to become a template that stopped without a saved template leaves nothing: the memory file
 * QEMU created (guest RAM on tmpfs) and the dirs created for it are removed (a launch teardown step).
 */
async function removeUnsavedTemplateFiles(
  memoryPath: string,
  files: TemplateVmFiles,
  logger: Logger,
): Promise<void> {
  if (files.saved) return;
  try {
    for (const f of files.stateFiles) await rm(f, { force: true });
    if (files.createdFile) await rm(memoryPath, { force: true });
    if (files.createdDir) await rm(files.createdDir, { recursive: true, force: true });
  } catch (err) {
    logger.warn({ err, memoryPath }, 'could not remove the unsaved template memory');
  }
}

/** The incoming half of a clone's start: capabilities, the state fd, `migrate-incoming`, `completed` by event. */
function incomingHooks(statePath: string, memoryPath: string): LaunchHooks {
  return {
    // Before QEMU is spawned: a missing or unreadable template fails the start at once.
    prepare: async () => {
      for (const path of [statePath, memoryPath]) {
        await access(path, constants.R_OK).catch((cause: unknown) => {
          throw new TemplateStateError(path, '', { cause });
        });
      }
    },
    beforeCont: async ({ qmp, signal, emit, sandboxId }) => {
      await setMigrationCapabilities(qmp, signal);
      let fh: Awaited<ReturnType<typeof open>>;
      try {
        fh = await open(statePath, constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch (cause) {
        throw new TemplateStateError(statePath, '', { cause });
      }
      try {
        await qmp.execute('getfd', { fdname: STATE_FD_NAME }, { fds: [fh.fd], signal });
      } finally {
        await fh.close();
      }
      await followMigration(
        qmp,
        () => qmp.execute('migrate-incoming', { uri: `fd:${STATE_FD_NAME}` }, { signal }),
        {
          direction: 'incoming',
          timeoutMs: INCOMING_TIMEOUT_MS,
          signal,
          onProgress: (p) => emit({ type: 'migration', sandboxId, ...p, at: Date.now() }),
        },
      );
    },
    explainFailure: (err) => {
      if (err instanceof TemplateStateError) return err;
      const qemuMessage = err instanceof QemuExitedEarlyError ? err.stderr.trim() : '';
      return new TemplateStateError(statePath, qemuMessage, { cause: err });
    },
  };
}

/**
 * The plan with the template steps: a VM to become a template gets its memory dir prepared; a
 * clone gets `-S` (it must not run before its state is loaded; `cont` follows `completed`) and
 * the incoming migration from the template's state file.
 */
export function withTemplateLaunch(
  plan: LaunchPlan,
  validated: ValidatedConfig,
  logger: () => Logger,
  files: TemplateVmFiles,
): LaunchPlan {
  const hv = validated.hypervisor;
  if (hv.bootToBeTemplate) {
    return {
      ...plan,
      hooks: {
        ...plan.hooks,
        prepare: () => prepareMemoryDir(hv.memoryPath, logger(), files),
        teardown: () => removeUnsavedTemplateFiles(hv.memoryPath, files, logger()),
      },
    };
  }
  if (hv.bootFromTemplate) {
    const argv = plan.argv.includes('-S') ? plan.argv : [plan.argv[0] ?? '', '-S', ...plan.argv.slice(1)];
    return { ...plan, argv, hooks: { ...plan.hooks, ...incomingHooks(hv.devicesStatePath, hv.memoryPath) } };
  }
  return plan;
}

/** Fresh entropy for a clone's guest RNG (Kata's factory reseeds every VM it hands out). */
export function reseedBytes(): string {
  return randomBytes(64).toString('base64');
}

/**
 * After a clone boots, as Kata's factory does for the VM it hands out: reseed the guest RNG and
 * sync its clock through the default guest's agent (every clone starts with the template's RNG
 * state and its clock at the moment of the save). Deadlines: the agent's own.
 */
export async function refreshClone(sb: Sandbox): Promise<void> {
  const agent = await sb.agent();
  await agent.request('reseed', [reseedBytes()], { timeout: 10_000 });
  await agent.request('set-clock', [Math.floor(Date.now() / 1000)], { timeout: 10_000 });
}

/**
 * A clone made by createSandbox: once it first runs, the vCPUs and memory asked for beyond the
 * template's are hot-added (queued operations), and with the guest agent its RNG and clock are
 * refreshed. Failures are logged (the clone itself is fine); {@link cloneSetupDone} awaits it.
 */
export function queueCloneSetup(sb: Sandbox, deltas: CloneDeltas, guestAgent: boolean): void {
  const sub = sb.events$.subscribe((e) => {
    if (e.type !== 'lifecycle' || e.to !== 'running') return;
    queueMicrotask(() => sub.unsubscribe());
    const warn = (what: string) => (err: unknown) => sb.logger.warn({ err }, `clone setup: ${what} failed`);
    const steps: Promise<unknown>[] = [];
    if (deltas.vcpus > 0) steps.push(sb.resizeVCPUs(deltas.targetVcpus).catch(warn('vCPU hot-add')));
    if (deltas.memoryMiB > 0)
      steps.push(sb.resizeMemory(deltas.targetMemoryMiB).catch(warn('memory hot-add')));
    if (guestAgent) steps.push(refreshClone(sb).catch(warn('RNG reseed / clock sync')));
    sb.attachments.cloneSetup = Promise.all(steps).then(() => undefined);
  });
}

/** Resolves once a clone's setup after its first start (hot-adds, RNG reseed, clock sync) is over; at once for other sandboxes. */
export function cloneSetupDone(sb: Sandbox): Promise<void> {
  return sb.attachments.cloneSetup ?? Promise.resolve();
}
