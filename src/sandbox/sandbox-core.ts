// The Sandbox handle's lifecycle core: the per-sandbox actor, the one event stream, start/pause/resume/stop.
// Over 400 lines: the lifecycle calls share the actor, the event subject and the detached flag; queries and operations live in sandbox.ts.
import { connect } from 'node:net';
import type { Logger } from 'pino';
import { filter, type Observable, Subject } from 'rxjs';
import { type Actor, type AnyActorRef, createActor } from 'xstate';
import type { SandboxOutput, SandboxPhase, StopDetails, StopReason } from '../../machines/sandbox.types.js';
import type { ValidatedConfig } from '../config/types.js';
import { GuestAgentClient } from '../guest/agent-client.js';
import type { QmpClient } from '../qmp/client.js';
import { QmpTimeoutError } from '../qmp/errors.js';
import { type ProvidedSandboxMachine, type SandboxEffects, sandboxMachineFor } from './actors.js';
import type { SandboxAttachments } from './attachments.js';
import {
  SandboxCommandError,
  SandboxStartError,
  SandboxStartTimeoutError,
  SandboxStateError,
} from './errors.js';
import { publicEventsOf, type SandboxEvent, type SandboxLifecycleEvent } from './events.js';
import type { SandboxRuntime } from './runtime.js';
import type { LaunchPlan, OperationProvider, SandboxSpec } from './spec.js';
import { withSpan } from './tracing.js';

/** A lifecycle event: `{ type: 'lifecycle', sandboxId, from, to, reason?, error?, at }`. */
export type LifecycleEvent = SandboxLifecycleEvent;

/**
 * How a sandbox ended: `stopReason`, QEMU's `exit` (code/signal), its `stderrTail`, `shutdownBy`
 * (`guest`/`host`, from QMP SHUTDOWN), `guestPanicked`, and every detail in `stopError`.
 */
export type StopResult = SandboxOutput;

/** The XState actor behind a sandbox, for inspection. */
export type SandboxActor = Actor<ProvidedSandboxMachine>;

/** vCPU index → host thread id (Kata's qemu.go `getThreadIDs` / `vcpuThreadIDs`). */
export interface VcpuThreadIds {
  readonly vcpus: ReadonlyMap<number, number>;
}

/** What the Sandbox constructor needs (built by `openSandbox`/`createSandbox`). */
export interface SandboxInit {
  readonly id: string;
  readonly runtime: SandboxRuntime;
  readonly spec: SandboxSpec;
  readonly logger: Logger;
  readonly signal?: AbortSignal | undefined;
  readonly operations?: OperationProvider | undefined;
  /** Deadline of every QMP command the handle sends (`check`, `getThreadIDs`, pause/resume), ms. */
  readonly qmpCommandTimeoutMs: number;
  /** The actor whose system this sandbox's actor joins, as its child (see `SandboxOptions.parentActor`). */
  readonly parentActor?: AnyActorRef | undefined;
}

/** The system id a sandbox's actor is registered under in its parent's actor system: `sandbox:<id>`. */
export function sandboxSystemId(sandboxId: string): string {
  return `sandbox:${sandboxId}`;
}

/** Turns the machine's record of a failed start into a typed error. */
function startErrorOf(
  sandboxId: string,
  details: StopDetails | null,
  reason: StopReason | null,
  timeoutMs: number,
): Error {
  const err = details?.error;
  if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ERR_START_TIMEOUT') {
    const message = String((err as { message?: unknown }).message ?? 'start timed out');
    return new SandboxStartError(sandboxId, { cause: new SandboxStartTimeoutError(message, timeoutMs) });
  }
  if (err !== undefined) return new SandboxStartError(sandboxId, { cause: err });
  return new SandboxStartError(sandboxId, {
    cause: new Error(`stopped (${reason ?? 'unknown'}) before running`),
  });
}

/** A pending `pause()` or `resume()` call. */
interface ToggleWaiter {
  readonly command: 'pause' | 'resume';
  readonly target: SandboxPhase;
  readonly overtaking: boolean;
  finish(err?: Error): void;
}

/** The sandbox stopped while a pause or resume was pending. */
function stoppedWhile(command: 'pause' | 'resume', to: SandboxPhase): SandboxStateError {
  return new SandboxStateError(
    `The sandbox stopped while ${command === 'pause' ? 'pausing' : 'resuming'}`,
    to,
  );
}

/** A pause or resume overtaken by the opposite call asked for after it. */
function supersededBy(command: 'pause' | 'resume', phase: SandboxPhase): SandboxStateError {
  const other = command === 'pause' ? 'resume' : 'pause';
  return new SandboxStateError(`The ${command} was superseded by a ${other} asked for after it`, phase);
}

/**
 * The lifecycle half of the {@link Sandbox} handle (created → starting → running ⇄ paused →
 * stopping → stopped): the per-sandbox machine, the one {@link SandboxEvent} stream, the console
 * and agent. `Sandbox` adds queries and modifying operations.
 */
export class SandboxCore implements AsyncDisposable {
  readonly id: string;
  /** Every event, hot (subscribe before `start()` to see all): lifecycle, operation, device, command-failed. Completes at `stopped`. */
  readonly events$: Observable<SandboxEvent>;
  /** The XState actor (for inspection; subscribe to {@link Sandbox.events$} for events). */
  readonly actor: SandboxActor;
  /** The sandbox's pino child logger (`{ sandboxId }`). */
  readonly logger: Logger;
  /** This sandbox's run dir (`<base>/<id>`, mode 0700 while it exists). */
  readonly runDir: string;
  /** The QEMU plan this sandbox launches. */
  readonly plan: LaunchPlan;
  /** The validated config (Kata's qemu.go `hypervisorConfig()`); absent for a sandbox opened from a bare plan. */
  readonly config: ValidatedConfig | undefined;
  protected readonly runtime: SandboxRuntime;
  protected readonly operations: OperationProvider | undefined;
  protected readonly qmpCommandTimeoutMs: number;
  /** Where every public event is published (operations settle on it). */
  protected readonly subject = new Subject<SandboxEvent>();
  /** @internal What the sandbox layer attached after construction (persister, template facts, …). */
  readonly attachments: SandboxAttachments = {};
  private readonly done: Promise<StopResult>;
  private agentClient: Promise<GuestAgentClient> | undefined;
  /** What the machine's effects run against (held here: the shared machine keeps only a WeakRef). */
  private readonly effects: SandboxEffects;
  /** Pending pause/resume calls: settled by `settleToggles` (no subscription per call), or when the actor ends. */
  private readonly toggleWaiters = new Set<ToggleWaiter>();
  /** Waiting for no pause/resume call to be pending ({@link togglesSettled}). */
  private settledWaiters: (() => void)[] = [];
  /** Set by `detach()`: the handle is inert, its calls reject with a state error (src/sandbox/detach.ts). */
  private detachedTo: string | undefined;

  /** @internal Use `createSandbox` or `openSandbox`. */
  constructor(init: SandboxInit) {
    const { id, runtime, spec, logger, signal } = init;
    this.id = id;
    this.runtime = runtime;
    this.operations = init.operations;
    this.qmpCommandTimeoutMs = init.qmpCommandTimeoutMs;
    this.logger = logger;
    this.runDir = runtime.opts.runDir;
    this.plan = runtime.opts.plan;
    this.config = spec.config;
    this.events$ = this.subject.asObservable();
    this.effects = { runtime, operations: init.operations, qmpCommandTimeoutMs: init.qmpCommandTimeoutMs };
    const { machine, release } = sandboxMachineFor(id, this.effects);
    const parent = init.parentActor;
    this.actor = createActor(machine, {
      input: {
        sandboxId: id,
        guestMemoryDump: spec.guestMemoryDump ?? null,
        ...(spec.startTimeoutMs === undefined ? {} : { startTimeoutMs: spec.startTimeoutMs }),
      },
      // A child in the parent's actor system (its clock, inspection, `system.get('sandbox:<id>')`):
      // the same shared machine and the same createActor as a lone sandbox, so start costs nothing more.
      ...(parent ? { parent, id, systemId: sandboxSystemId(id) } : {}),
    });
    this.actor.on('*', (emitted) => {
      for (const e of publicEventsOf(emitted)) this.publish(e);
    });
    // Events the effects publish themselves (migration progress of a template save or clone boot).
    runtime.events.subscribe((e) => this.publish(e));
    this.done = new Promise<StopResult>((resolve) => {
      this.actor.subscribe({
        next: () => {
          if (this.toggleWaiters.size > 0) this.settleOvertaking();
        },
        // A detached handle's actor is stopped without the VM: `stopped` stays pending.
        complete: () => {
          if (this.detachedTo === undefined) resolve(this.actor.getSnapshot().output as StopResult);
        },
        error: (err) =>
          resolve({
            stopReason: 'crashed',
            stopError: { error: err },
            exit: null,
            stderrTail: null,
            shutdownBy: null,
            guestPanicked: false,
          }),
      });
    });
    // The agent connection dies with QEMU; close our end when the sandbox is stopped.
    void this.done.then(async () => {
      release();
      for (const w of [...this.toggleWaiters]) w.finish(stoppedWhile(w.command, 'stopped'));
      const agent = await this.agentClient?.catch(() => undefined);
      agent?.close();
    });
    this.actor.start();
    if (signal) {
      const onAbort = () => this.actor.send({ type: 'STOP' });
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        void this.done.then(() => signal.removeEventListener('abort', onAbort));
      }
    }
  }

  /** The current public phase. */
  get phase(): SandboxPhase {
    return this.actor.getSnapshot().context.phase;
  }

  /** Resolves when the sandbox reaches `stopped` (never rejects). */
  get stopped(): Promise<StopResult> {
    return this.done;
  }

  /** The QMP client while QEMU runs (an escape hatch; the machine owns the lifecycle). */
  get qmp(): QmpClient | undefined {
    return this.runtime.qmp;
  }

  /**
   * Starts the VM: run dir, virtiofsd, QEMU, QMP. Resolves once `running`; on failure rejects
   * with `SandboxStartError` (its `cause` says why, e.g. `QemuExitedEarlyError` with QEMU's
   * stderr) after everything created was removed.
   *
   * @example
   * ```ts
   * await sb.start();
   * console.log(sb.phase); // 'running'
   * ```
   */
  start(): Promise<void> {
    return withSpan('sandbox.start', { 'vmactor.sandbox.id': this.id }, async () => {
      this.assertAttached();
      const phase = this.phase;
      if (phase === 'running' || phase === 'paused') return;
      if (phase !== 'created' && phase !== 'starting') {
        throw new SandboxStateError(`Expected the sandbox to be created, got \`${phase}\``, phase);
      }
      const reached = this.until(['running', 'paused', 'stopping', 'stopped']);
      if (phase === 'created') this.actor.send({ type: 'START' });
      const to = await reached;
      if (to === 'running' || to === 'paused') return;
      const out = await this.done;
      const ctx = this.actor.getSnapshot().context;
      throw startErrorOf(this.id, out.stopError ?? ctx.stopError, out.stopReason, ctx.startTimeoutMs);
    });
  }

  /**
   * Pauses the VM (QMP `stop`, with the sandbox's QMP deadline); resolves once `paused`. A hung
   * QEMU rejects with `QmpTimeoutError`, a refusal with `SandboxCommandError`.
   *
   * @example
   * ```ts
   * await sb.pause();
   * ```
   */
  pause(): Promise<void> {
    return this.toggle('pause');
  }

  /**
   * Resumes the VM (QMP `cont`, with the sandbox's QMP deadline); resolves once `running`.
   *
   * @example
   * ```ts
   * await sb.resume();
   * ```
   */
  resume(): Promise<void> {
    return this.toggle('resume');
  }

  /**
   * Stops the sandbox (idempotent, accepted in every phase): QMP `quit` → wait → SIGTERM → wait →
   * SIGKILL → reap, QEMU before virtiofsd, then sockets and the run dir are removed. `waitOnly`
   * (Kata 2.x `stopSandbox(waitOnly)`) sends no `quit`: it waits for QEMU to exit, then escalates.
   *
   * @example
   * ```ts
   * const { stopReason, exit, shutdownBy, guestPanicked, stderrTail } = await sb.stop();
   * ```
   */
  stop(options: { waitOnly?: boolean } = {}): Promise<StopResult> {
    return withSpan('sandbox.stop', { 'vmactor.sandbox.id': this.id }, () => {
      if (this.detachedTo !== undefined) return Promise.reject(this.detachedError());
      if (this.actor.getSnapshot().status === 'active') {
        // A running VM is told to quit first: QEMU's exit (milliseconds) overlaps the stop
        // transition and the durable `stopping` record instead of following them.
        const phase = this.phase;
        if (!options.waitOnly && (phase === 'running' || phase === 'paused')) this.runtime.requestQuit();
        this.actor.send({ type: 'STOP', ...(options.waitOnly ? { waitOnly: true } : {}) });
      }
      return this.done;
    });
  }

  /**
   * What the guest console printed so far (also streamed through the logger at debug level).
   *
   * @example
   * ```ts
   * console.log(await sb.consoleLog());
   * ```
   */
  async consoleLog(): Promise<string> {
    return (await this.runtime.console?.read()) ?? '';
  }

  /** Console lines as they arrive (hot); completes when the console closes. */
  get console$(): Observable<string> | undefined {
    return this.runtime.console?.lines$;
  }

  /**
   * A client of the default guest's agent on the `agent.channel.0` port (connected once, cached).
   *
   * @example
   * ```ts
   * const agent = await sb.agent();
   * await agent.waitReady();
   * ```
   */
  agent(): Promise<GuestAgentClient> {
    if (this.detachedTo !== undefined) return Promise.reject(this.detachedError());
    this.agentClient ??= new Promise<GuestAgentClient>((resolve, reject) => {
      const path = this.plan.paths.agentSocket;
      if (!path || (this.phase !== 'running' && this.phase !== 'paused')) {
        reject(new SandboxStateError('Expected a running sandbox with an agent socket', this.phase));
        return;
      }
      const socket = connect(path);
      socket.once('connect', () => resolve(new GuestAgentClient(socket)));
      socket.once('error', reject);
    });
    const p = this.agentClient;
    p.catch(() => {
      if (this.agentClient === p) this.agentClient = undefined;
    });
    return p;
  }

  /** Stops and cleans up (`await using sb = await createSandbox(...)`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private publish(e: SandboxEvent): void {
    if (e.type === 'lifecycle') {
      this.logger.info({ from: e.from, to: e.to, reason: e.reason }, `sandbox ${e.from} -> ${e.to}`);
    } else if (e.type === 'command-failed') {
      this.logger.warn({ err: e.error, command: e.command }, 'command failed');
    }
    this.subject.next(e);
    this.settleToggles(e);
    if (e.type === 'lifecycle' && e.to === 'stopped') this.subject.complete();
  }

  /** @internal Whether a `pause()` or `resume()` call is pending. */
  get togglesPending(): boolean {
    return this.toggleWaiters.size > 0;
  }

  /** @internal Resolves once no `pause()`/`resume()` call is pending (state persistence waits for a burst to end). */
  togglesSettled(): Promise<void> {
    if (this.toggleWaiters.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private wakeSettledWaiters(): void {
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const w of waiters) w();
  }

  /** @internal The live runtime (state persistence, detach, attach). */
  get internalRuntime(): SandboxRuntime {
    return this.runtime;
  }

  /** @internal Makes the handle inert (after `detach()`): later calls reject with {@link SandboxStateError}. */
  markDetached(runDir: string): void {
    this.detachedTo = runDir;
  }

  /** True once `detach()` handed the VM off. */
  get detached(): boolean {
    return this.detachedTo !== undefined;
  }

  protected detachedError(): SandboxStateError {
    return new SandboxStateError(
      `Expected an attached sandbox, got a detached handle (\`${this.id}\` was handed off; attachSandbox its handle)`,
      'detached',
    );
  }

  protected assertAttached(): void {
    if (this.detachedTo !== undefined) throw this.detachedError();
  }

  protected deadline(): { timeoutMs: number } {
    return { timeoutMs: this.qmpCommandTimeoutMs };
  }

  protected requireQmp(): QmpClient {
    this.assertAttached();
    const qmp = this.runtime.qmp;
    const phase = this.phase;
    if (!qmp || (phase !== 'running' && phase !== 'paused')) {
      throw new SandboxStateError(`Expected the sandbox to be running or paused, got \`${phase}\``, phase);
    }
    return qmp;
  }

  private toggle(command: 'pause' | 'resume'): Promise<void> {
    const target: SandboxPhase = command === 'pause' ? 'paused' : 'running';
    return withSpan(`sandbox.${command}`, { 'vmactor.sandbox.id': this.id }, () => {
      if (this.detachedTo !== undefined) return Promise.reject(this.detachedError());
      const phase = this.phase;
      if (phase !== 'running' && phase !== 'paused') {
        return Promise.reject(
          new SandboxStateError(`Expected the sandbox to be running or paused, got \`${phase}\``, phase),
        );
      }
      const snapshot = this.actor.getSnapshot();
      if (snapshot.status !== 'active') return Promise.reject(stoppedWhile(command, 'stopped'));
      const run = (snapshot.value as { active?: { run?: string } }).active?.run;
      if (run === target) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const waiter: ToggleWaiter = {
          command,
          target,
          // Overtaking the opposite call in flight while already in the target phase: the machine
          // comes back to the target state without a lifecycle event (see `settleOvertaking`).
          overtaking: phase === target,
          finish: (err) => {
            if (!this.toggleWaiters.delete(waiter)) return;
            if (err) reject(err);
            else resolve();
            if (this.toggleWaiters.size === 0) this.wakeSettledWaiters();
          },
        };
        // A pause or resume asked for after the opposite one takes over (its command cancels
        // that one's): the opposite call ends now, instead of waiting for a phase that never comes.
        for (const w of this.toggleWaiters) {
          if (w.command !== command) w.finish(supersededBy(w.command, this.phase));
        }
        this.toggleWaiters.add(waiter);
        this.actor.send({ type: command === 'pause' ? 'PAUSE' : 'RESUME' });
      });
    });
  }

  /**
   * Settles pending pause/resume calls on what the handle publishes (after every other
   * subscriber, so state.json is written first): the target phase, the command failing, or the
   * sandbox stopping. An overtaking call (see `toggle`) ends when the machine is back in its target
   * state, which comes without a lifecycle event: it is read from the snapshot after each event.
   */
  private settleToggles(e: SandboxEvent): void {
    if (this.toggleWaiters.size === 0) return;
    for (const w of [...this.toggleWaiters]) {
      if (e.type === 'lifecycle') {
        if (e.to === w.target) w.finish();
        else if (e.to === 'stopping' || e.to === 'stopped') w.finish(stoppedWhile(w.command, e.to));
      } else if (e.type === 'command-failed' && e.command === w.command) {
        // A hung QEMU is told as the deadline it missed; a refusal as the command that failed.
        w.finish(
          e.error instanceof QmpTimeoutError
            ? e.error
            : new SandboxCommandError(w.command, { cause: e.error }),
        );
      }
    }
  }

  /** After a snapshot change: an overtaking call whose machine is back in its target state ends. */
  private settleOvertaking(): void {
    for (const w of this.toggleWaiters) {
      if (!w.overtaking) continue;
      const run = (this.actor.getSnapshot().value as { active?: { run?: string } }).active?.run;
      if (run === w.target) w.finish();
    }
  }

  /** Resolves with the first phase among `phases` the sandbox enters (or `stopped` once it ended). */
  private until(phases: readonly SandboxPhase[]): Promise<SandboxPhase> {
    return new Promise((resolve) => {
      const sub = this.subject.pipe(filter((e) => e.type === 'lifecycle')).subscribe((e) => {
        if (!phases.includes(e.to)) return;
        sub.unsubscribe();
        resolve(e.to);
      });
      void this.done.then(() => {
        sub.unsubscribe();
        resolve('stopped');
      });
    });
  }
}
