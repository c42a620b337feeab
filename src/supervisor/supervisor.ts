// The Supervisor: every sandbox of the host in one place, admission under limits, bounded starts, one event stream.
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import { type Actor, type AnyActorRef, createActor, fromPromise } from 'xstate';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import type { SupervisorEmitted, SupervisorLimits } from '../../machines/supervisor.types.js';
import type { SandboxConfig } from '../config/types.js';
import { type ValidateOptions, validateConfig } from '../config/validate.js';
import type { DeviceEntry } from '../devices/record-types.js';
import { rootLogger } from '../log.js';
import { defaultRunBase } from '../process/run-dir.js';
import { type CreateSandboxOptions, createSandbox } from '../sandbox/create.js';
import type { SandboxEvent } from '../sandbox/events.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import { templateConfigOf } from '../sandbox/template/boot.js';
import { AdmissionError, SandboxNotFoundError } from './errors.js';
import { EventLog } from './event-log.js';
import { StartGate } from './start-gate.js';
import {
  DEFAULT_SERVICE_TEMPLATE_BASE,
  listTemplates,
  loadTemplate,
  summarizeTemplate,
  type TemplateSummary,
} from './templates.js';
import { type WireEvent, wireEvent } from './wire-event.js';

/** What the boot-time recovery step gets: the run base, and `adopt` to hold a reattached sandbox. */
export interface RecoveryHost {
  readonly runBase: string;
  readonly logger: Logger;
  /** Holds a sandbox that already exists (reattached): admitted without limits, its events streamed. */
  adopt(sandbox: Sandbox): void;
  /** Pass as `parentActor` when attaching: the sandbox's actor joins the supervisor's actor system. */
  readonly parentActor: AnyActorRef;
}

/**
 * The boot-time recovery step (`recoverSandboxes` of the durable-sandboxes work plugs in here);
 * the default does nothing. It runs before the supervisor admits anything.
 */
export type RecoverStep = (host: RecoveryHost) => Promise<void>;

/** Options of {@link openSupervisor}. */
export interface SupervisorOptions {
  /** Base of the sandboxes' run dirs. Default {@link defaultRunBase}. */
  readonly runBase?: string;
  readonly logger?: Logger;
  /** Most sandboxes held at once (stopped ones not counted). Default 256. */
  readonly maxSandboxes?: number;
  /** Guest memory budget, MiB. Default: 90 % of host memory. */
  readonly memoryBudgetMiB?: number;
  /** Starts in flight at once. Default `os.availableParallelism()`. */
  readonly startConcurrency?: number;
  /** Events kept for `Last-Event-ID` replay. Default 10 000. */
  readonly eventBufferSize?: number;
  /** Validation defaults (e.g. the default guest's kernel and initrd). */
  readonly validate?: ValidateOptions;
  /** Options passed to every `createSandbox` (accelerator, deadlines, `guestAgent` …). */
  readonly sandboxOptions?: Omit<CreateSandboxOptions, 'runDir' | 'logger' | 'signal' | 'validate'>;
  /** Boot-time recovery (default: none). */
  readonly recover?: RecoverStep;
  /** Applied to every config before validation (e.g. the service's default guest and console). */
  readonly prepare?: (config: SandboxConfig) => SandboxConfig;
  /**
   * Where templates live, one dir per name (default `/dev/shm/vmactor-templates`): a sandbox
   * created with `bootToBeTemplate` keeps its memory in `<templateBase>/<id>`, and saving it makes
   * the template `<id>` there.
   */
  readonly templateBase?: string;
}

/** Options of {@link Supervisor.create}. */
export interface CreateOptions {
  /** Boot from this saved template (a clone; see {@link Supervisor.saveTemplate}). */
  readonly template?: string;
}

/** The host's stream: sandbox events plus the supervisor's own `supervisor` events (added/removed). */
export type HostEvent = WireEvent;

/** One sandbox as `list()`/`get()` report it (JSON-safe). */
export interface SandboxSummary {
  readonly id: string;
  readonly phase: Sandbox['phase'];
  /** QEMU's pid while it runs. */
  readonly qemuPid: number | null;
  readonly virtiofsdPid: number | null;
  readonly memoryMiB: number;
  readonly vcpus: number;
  readonly devices: { id: string; kind: string; origin: string; guestPath?: string }[];
  readonly runDir: string;
  readonly createdAt: string;
  /** Why it stopped, once `stopped`. */
  readonly stopReason: string | null;
}

interface Held {
  readonly sandbox: Sandbox;
  readonly createdAt: Date;
  memoryMiB: number;
  vcpus: number;
  stopReason: string | null;
  readonly sub: Subscription;
}

const DEFAULT_MAX_SANDBOXES = 256;

/** Default memory budget: 90 % of host memory, MiB. */
export function defaultMemoryBudgetMiB(): number {
  return Math.floor((totalmem() / (1024 * 1024)) * 0.9);
}

function devicesOf(list: readonly DeviceEntry[]): SandboxSummary['devices'] {
  return list.map((d) => ({
    id: d.id,
    kind: d.spec.kind,
    origin: d.origin,
    ...(d.guestPath === undefined ? {} : { guestPath: d.guestPath }),
  }));
}

/**
 * Every sandbox of one host: admission (maximum sandboxes, a memory budget, each refusal naming
 * its limit), starts bounded by `startConcurrency`, and one {@link EventLog} of every sandbox's
 * events with a monotonic `seq`. Backed by the supervisor machine (`machines/supervisor.machine.ts`).
 *
 * @example
 * ```ts
 * const sup = await openSupervisor({ maxSandboxes: 50, validate: { defaults: guestArtifacts('cloud') } });
 * sup.events.events$.subscribe(({ seq, event }) => console.log(seq, event.type));
 * await sup.create({ id: 'a', hypervisor: { memorySize: 512 } });
 * await sup.start('a');
 * await sup.close({ stopSandboxes: true });
 * ```
 */
export class Supervisor {
  /** The host's one event stream (sandbox events, `supervisor` events), with replay. */
  readonly events: EventLog<HostEvent>;
  readonly runBase: string;
  readonly logger: Logger;
  readonly limits: SupervisorLimits;
  /** Base dir of the templates (one dir per template name). */
  readonly templateBase: string;
  private readonly held = new Map<string, Held>();
  private readonly gate: StartGate;
  private readonly actor: Actor<typeof supervisorMachine>;
  private readonly emitted: SupervisorEmitted[] = [];

  /** @internal Use {@link openSupervisor}. */
  constructor(private readonly options: SupervisorOptions) {
    this.runBase = options.runBase ?? defaultRunBase();
    this.logger = options.logger ?? rootLogger();
    this.templateBase = options.templateBase ?? DEFAULT_SERVICE_TEMPLATE_BASE;
    this.limits = {
      maxSandboxes: options.maxSandboxes ?? DEFAULT_MAX_SANDBOXES,
      memoryBudgetMiB: options.memoryBudgetMiB ?? defaultMemoryBudgetMiB(),
    };
    this.gate = new StartGate(options.startConcurrency ?? availableParallelism());
    this.events = new EventLog<HostEvent>(options.eventBufferSize ?? 10_000);
    const recover = options.recover ?? (async () => undefined);
    const machine = supervisorMachine.provide({
      actors: {
        recover: fromPromise(() => recover(host)),
        drain: fromPromise<void, { stopSandboxes: boolean }>(({ input }) => this.drain(input.stopSandboxes)),
      },
    });
    this.actor = createActor(machine, { input: { limits: this.limits } });
    const host: RecoveryHost = {
      runBase: this.runBase,
      logger: this.logger,
      adopt: (sb) => this.adopt(sb, sb.config?.hypervisor.memorySize ?? 0, true),
      parentActor: this.actor,
    };
    this.actor.on('*', (e) => this.emitted.push(e));
  }

  /** @internal Starts the machine and waits for recovery. */
  async open(): Promise<this> {
    const ready = new Promise<void>((resolve) => {
      const sub = this.actor.subscribe((s) => {
        if (s.value === 'recovering') return;
        sub.unsubscribe();
        resolve();
      });
    });
    this.actor.start();
    if (this.actor.getSnapshot().value !== 'recovering') return this;
    await ready;
    const err = this.actor.getSnapshot().context.recoveryError;
    if (err !== undefined) this.logger.error({ err }, 'recovery at boot failed; serving without it');
    return this;
  }

  /** The supervisor's XState actor (for inspection: `inspect(supervisor)`). */
  get actorRef(): Actor<typeof supervisorMachine> {
    return this.actor;
  }

  /** The supervisor machine's state: `recovering`, `serving`, `draining` or `closed`. */
  get state(): string {
    return String(this.actor.getSnapshot().value);
  }

  /**
   * Validates `config` (`ConfigError`), admits it (`AdmissionError` naming the limit), and creates
   * the sandbox in `created`. Nothing is launched. With `template` it is a clone of that saved
   * template (`TemplateNotFoundError`; a config planning another QEMU command line than the
   * template's is a `TemplateMismatchError`).
   */
  async create(input: SandboxConfig, options: CreateOptions = {}): Promise<SandboxSummary> {
    const template =
      options.template === undefined ? undefined : await loadTemplate(this.templateBase, options.template);
    const config = this.options.prepare ? this.options.prepare(input) : input;
    // Validated as createSandbox will (a bad id fails here, before its template dir is used).
    const templateDir = join(this.templateBase, config.id);
    const planned = templateConfigOf(config, { ...(template ? { template } : {}), templateDir });
    const validated = validateConfig(planned, this.options.validate);
    // A clone asking for more memory than its template gets it hot-added: admit what it will hold.
    const memoryMiB = Math.max(validated.hypervisor.memorySize, config.hypervisor?.memorySize ?? 0);
    const refusal = this.admit(validated.id, memoryMiB);
    if (refusal) throw new AdmissionError(validated.id, refusal.reason, refusal.message);
    let sb: Sandbox;
    try {
      sb = await createSandbox(config, {
        ...this.options.sandboxOptions,
        runDir: this.runBase,
        logger: this.logger,
        parentActor: this.actor,
        templateDir,
        ...(template ? { template } : {}),
        ...(this.options.validate ? { validate: this.options.validate } : {}),
      });
    } catch (err) {
      this.actor.send({ type: 'FORGET', id: validated.id });
      throw err;
    }
    this.adopt(sb, memoryMiB, false);
    return this.summary(sb.id);
  }

  /**
   * Saves the sandbox `id` (created with `hypervisor.bootToBeTemplate`, running or paused) as the
   * template `id` under {@link templateBase}: paused, device state saved, `template.json` written,
   * the template VM stopped unless `keepRunning`. A sandbox that is not a template VM is a
   * `TemplateInputError`.
   */
  async saveTemplate(id: string, options: { keepRunning?: boolean } = {}): Promise<TemplateSummary> {
    const sb = this.get(id);
    const t = await sb.saveTemplate(
      join(this.templateBase, id),
      options.keepRunning === undefined ? {} : { keepRunning: options.keepRunning },
    );
    return summarizeTemplate(id, t);
  }

  /** Every saved template under {@link templateBase}. */
  templates(): Promise<TemplateSummary[]> {
    return listTemplates(this.templateBase);
  }

  /**
   * The supervisor's actor system: every held sandbox's actor is a child of the supervisor actor
   * there, under the system id `sandbox:<id>` (`system.get(sandboxSystemId(id))`), until it ends.
   */
  get system(): AnyActorRef['system'] {
    return this.actor.system;
  }

  /** The sandbox handle (`SandboxNotFoundError` if not held). */
  get(id: string): Sandbox {
    const h = this.held.get(id);
    if (!h) throw new SandboxNotFoundError(id);
    return h.sandbox;
  }

  /** Every held sandbox, by id. */
  list(): SandboxSummary[] {
    return [...this.held.keys()].sort().map((id) => this.summary(id));
  }

  /** One sandbox's summary. */
  summary(id: string): SandboxSummary {
    const h = this.held.get(id);
    if (!h) throw new SandboxNotFoundError(id);
    const sb = h.sandbox;
    const [qemuPid, virtiofsdPid] = sb.getPids();
    return {
      id,
      phase: sb.phase,
      qemuPid: qemuPid ?? null,
      virtiofsdPid: virtiofsdPid ?? null,
      memoryMiB: h.memoryMiB,
      vcpus: h.vcpus,
      devices: devicesOf(sb.devices()),
      runDir: sb.runDir,
      createdAt: h.createdAt.toISOString(),
      stopReason: h.stopReason,
    };
  }

  /** Starts a sandbox once a start slot is free (at most `startConcurrency` at once). */
  start(id: string): Promise<void> {
    const sb = this.get(id);
    return this.gate.run(() => sb.start());
  }

  /** Stops (if needed) and forgets a sandbox: its run dir is gone afterwards. */
  async remove(id: string): Promise<void> {
    const h = this.held.get(id);
    if (!h) throw new SandboxNotFoundError(id);
    await h.sandbox.stop();
    if (this.held.get(id) !== h) return;
    this.held.delete(id);
    h.sub.unsubscribe();
    this.actor.send({ type: 'FORGET', id });
    this.events.append({ type: 'supervisor', change: 'removed', sandboxId: id, at: Date.now() });
  }

  /** Starts waiting to start / starts running now. */
  get starts(): { active: number; queued: number } {
    return { active: this.gate.active, queued: this.gate.queued };
  }

  /**
   * Stops serving: with `stopSandboxes` every sandbox is stopped (and its run dir removed),
   * otherwise they keep running (a restarted service reattaches them). Completes the event stream.
   */
  async close(options: { stopSandboxes: boolean }): Promise<void> {
    if (this.actor.getSnapshot().status === 'done') return;
    const done = new Promise<void>((resolve) => {
      this.actor.subscribe({ complete: () => resolve() });
    });
    this.actor.send({ type: 'SHUTDOWN', stopSandboxes: options.stopSandboxes });
    await done;
    this.events.close();
  }

  private admit(id: string, memoryMiB: number) {
    this.emitted.length = 0;
    this.actor.send({ type: 'ADMIT', id, memoryMiB });
    const answer = this.emitted.find((e) => e.id === id && (e.type === 'admitted' || e.type === 'refused'));
    if (answer?.type === 'admitted') return undefined;
    return answer?.type === 'refused'
      ? answer.refusal
      : { reason: 'not-serving' as const, message: 'The supervisor is not serving' };
  }

  private adopt(sb: Sandbox, memoryMiB: number, recovered: boolean): void {
    if (recovered) this.actor.send({ type: 'ADOPT', id: sb.id, memoryMiB });
    const h: Held = {
      sandbox: sb,
      createdAt: new Date(),
      memoryMiB,
      vcpus: sb.config?.hypervisor.numVCPUs ?? 1,
      stopReason: null,
      sub: sb.events$.subscribe((e) => this.onEvent(h, e)),
    };
    this.held.set(sb.id, h);
    this.events.append({
      type: 'supervisor',
      change: recovered ? 'recovered' : 'added',
      sandboxId: sb.id,
      at: Date.now(),
    });
  }

  private onEvent(h: Held, e: SandboxEvent): void {
    if (e.type === 'operation' && e.phase === 'confirmed') {
      const r = e.result as { kind?: string; newVCPUs?: number; currentMiB?: number } | undefined;
      if (r?.kind === 'resize-vcpus' && typeof r.newVCPUs === 'number') h.vcpus = r.newVCPUs;
      if (r?.kind === 'resize-memory' && typeof r.currentMiB === 'number') h.memoryMiB = r.currentMiB;
    }
    if (e.type === 'lifecycle' && e.to === 'stopped') {
      h.stopReason = e.reason ?? null;
      this.actor.send({ type: 'STOPPED', id: h.sandbox.id });
    }
    this.events.append(wireEvent(e));
  }

  private async drain(stopSandboxes: boolean): Promise<void> {
    if (!stopSandboxes) return;
    await Promise.all([...this.held.values()].map((h) => h.sandbox.stop()));
  }
}

/**
 * Opens a {@link Supervisor}: runs the recovery step (default none), then admits sandboxes.
 *
 * @example
 * ```ts
 * const sup = await openSupervisor({ runBase: '/run/vmactor', recover: async (host) => {} });
 * ```
 */
export function openSupervisor(options: SupervisorOptions = {}): Promise<Supervisor> {
  return new Supervisor(options).open();
}
