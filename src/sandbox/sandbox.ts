// The public Sandbox handle: one XState actor per sandbox, lifecycle events as an Observable.
import { connect } from 'node:net';
import type { Logger } from 'pino';
import { type Observable, Subject } from 'rxjs';
import { type Actor, createActor } from 'xstate';
import type {
  LifecycleEmitted,
  SandboxOperation,
  SandboxOutput,
  SandboxPhase,
  StopDetails,
  StopReason,
} from '../../machines/sandbox.types.js';
import { GuestAgentClient } from '../guest/agent-client.js';
import { rootLogger } from '../log.js';
import { assertSocketPath, assertUnder, defaultRunBase, runDirFor } from '../process/run-dir.js';
import { DEFAULT_STOP_POLICY, type StopPolicy } from '../process/stop-ladder.js';
import type { QmpClient } from '../qmp/client.js';
import { bindRuntime, sandboxMachineFor } from './actors.js';
import {
  GuestFailureError,
  SandboxCommandError,
  SandboxOperationError,
  SandboxStartError,
  SandboxStartTimeoutError,
  SandboxStateError,
} from './errors.js';
import { SandboxRuntime } from './runtime.js';
import type { LaunchPlan, OperationProvider, SandboxSpec } from './spec.js';
import { withSpan } from './tracing.js';

/** A lifecycle event: `{ sandboxId, from, to, reason?, error?, at }`, one per phase change. */
export type LifecycleEvent = LifecycleEmitted;

/** How a sandbox ended: its stop reason and details (exit, shutdown, panic, dump, errors). */
export type StopResult = SandboxOutput;

/** The XState actor behind a sandbox, for inspection. */
export type SandboxActor = Actor<ReturnType<typeof sandboxMachineFor>>;

/** Options of {@link createSandbox} and {@link openSandbox}. */
export interface SandboxOptions {
  /** Parent logger; the sandbox logs through `logger.child({ sandboxId })`. Default: {@link rootLogger}. */
  readonly logger?: Logger;
  /** Base dir of run dirs (the sandbox gets `<runDir>/<id>`, mode 0700). Default: {@link defaultRunBase}. */
  readonly runDir?: string;
  /** Aborting stops the sandbox (and fails a pending `start()`). */
  readonly signal?: AbortSignal;
  /** The stop ladder's deadlines. Default {@link DEFAULT_STOP_POLICY}. */
  readonly stopPolicy?: Partial<StopPolicy>;
  /** Deadline for QEMU's QMP greeting during start. Default 10 000 ms. */
  readonly qmpTimeoutMs?: number;
  /** Implements modifying operations (hotplug/unplug/resize); without it they fail. */
  readonly operations?: OperationProvider;
  /** Start QEMU and virtiofsd in this network namespace file (`/var/run/netns/NAME`), as Kata's `createSandbox(ctx, id, networkNS, …)`. */
  readonly netns?: string;
}

/** vCPU index → host thread id (Kata's hypervisor.go `VcpuThreadIDs`). */
export interface VcpuThreadIds {
  readonly vcpus: ReadonlyMap<number, number>;
}

const FAILURE_STATUSES = new Set(['internal-error', 'guest-panicked']);

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

/**
 * One QEMU sandbox VM driven by an XState actor (created → starting → running ⇄ paused →
 * stopping → stopped). Every effect goes through QMP and the process layer; every phase change is
 * a {@link LifecycleEvent} on {@link Sandbox.events$}.
 *
 * @example
 * ```ts
 * await using sb = await createSandbox(config, { logger });
 * sb.events$.subscribe((e) => console.log(`${e.from} -> ${e.to}`, e.reason ?? ''));
 * await sb.start();
 * await sb.pause();
 * await sb.resume();
 * const { stopReason } = await sb.stop(); // 'requested'
 * ```
 */
export class Sandbox implements AsyncDisposable {
  /** Lifecycle events, hot: subscribe before `start()` to see every one. Completes at `stopped`. */
  readonly events$: Observable<LifecycleEvent>;
  /** The XState actor (inspect it, or subscribe to `actor.on('*', …)` for operation events). */
  readonly actor: SandboxActor;
  /** The sandbox's pino child logger (`{ sandboxId }`). */
  readonly logger: Logger;
  /** This sandbox's run dir (`<base>/<id>`, mode 0700 while it exists). */
  readonly runDir: string;
  /** The QEMU plan this sandbox launches. */
  readonly plan: LaunchPlan;
  private readonly runtime: SandboxRuntime;
  private readonly subject = new Subject<LifecycleEvent>();
  private readonly done: Promise<StopResult>;
  private agentClient: Promise<GuestAgentClient> | undefined;
  /** Pending pause/resume calls, settled when the actor ends (one reaction on `done` for all). */
  private readonly settlers = new Set<() => void>();
  private operationCounter = 0;

  /** @internal Use {@link createSandbox} or {@link openSandbox}. */
  constructor(
    readonly id: string,
    runtime: SandboxRuntime,
    spec: SandboxSpec,
    logger: Logger,
    signal: AbortSignal | undefined,
    operations?: OperationProvider,
  ) {
    this.runtime = runtime;
    this.logger = logger;
    this.runDir = runtime.opts.runDir;
    this.plan = runtime.opts.plan;
    this.events$ = this.subject.asObservable();
    this.actor = createActor(sandboxMachineFor(operations), {
      input: {
        sandboxId: id,
        guestMemoryDump: spec.guestMemoryDump ?? null,
        ...(spec.startTimeoutMs === undefined ? {} : { startTimeoutMs: spec.startTimeoutMs }),
      },
    });
    bindRuntime(this.actor.system, runtime);
    this.actor.on('lifecycle', (e) => {
      logger.info({ from: e.from, to: e.to, reason: e.reason }, `sandbox ${e.from} -> ${e.to}`);
      this.subject.next(e);
      if (e.to === 'stopped') this.subject.complete();
    });
    this.actor.on('command-failed', (e) =>
      logger.warn({ err: e.error, command: e.command }, 'command failed'),
    );
    this.done = new Promise<StopResult>((resolve) => {
      this.actor.subscribe({
        complete: () => resolve(this.actor.getSnapshot().output as StopResult),
        error: (err) => resolve({ stopReason: 'crashed', stopError: { error: err } }),
      });
    });
    // The agent connection dies with QEMU; close our end when the sandbox is stopped.
    void this.done.then(async () => {
      for (const settle of [...this.settlers]) settle();
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
   * with {@link SandboxStartError} (its `cause` says why, e.g. `QemuExitedEarlyError` with QEMU's
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
   * Pauses the VM (QMP `stop`); resolves once `paused`.
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
   * Resumes the VM (QMP `cont`); resolves once `running`.
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
   * (Kata's qemu.go `stopSandbox` with `waitOnly`) sends no `quit`: it waits for QEMU to exit on its own, then escalates.
   *
   * @example
   * ```ts
   * const { stopReason } = await sb.stop();
   * ```
   */
  stop(options: { waitOnly?: boolean } = {}): Promise<StopResult> {
    return withSpan('sandbox.stop', { 'vmactor.sandbox.id': this.id }, () => {
      if (this.actor.getSnapshot().status === 'active') {
        this.actor.send({ type: 'STOP', ...(options.waitOnly ? { waitOnly: true } : {}) });
      }
      return this.done;
    });
  }

  /**
   * Checks the VM through QMP `query-status` (Kata's qemu.go `check`): rejects with
   * {@link GuestFailureError} for `internal-error` and `guest-panicked`.
   *
   * @example
   * ```ts
   * await sb.check();
   * ```
   */
  check(): Promise<void> {
    return withSpan('sandbox.check', { 'vmactor.sandbox.id': this.id }, async () => {
      const status = await this.requireQmp().execute('query-status');
      if (FAILURE_STATUSES.has(status.status)) throw new GuestFailureError(status.status);
    });
  }

  /**
   * PIDs of the sandbox's live processes: QEMU first, then virtiofsd (Kata's qemu.go `getPids`).
   *
   * @example
   * ```ts
   * const [qemuPid, virtiofsdPid] = sb.getPids();
   * ```
   */
  getPids(): number[] {
    const out: number[] = [];
    const { qemu, virtiofsd } = this.runtime;
    if (qemu && qemu.exitInfo() === undefined) out.push(qemu.pid);
    if (virtiofsd && virtiofsd.exitInfo() === undefined) out.push(virtiofsd.pid);
    return out;
  }

  /**
   * vCPU index → host thread id from QMP `query-cpus-fast` (Kata's qemu.go `getThreadIDs`).
   *
   * @example
   * ```ts
   * const { vcpus } = await sb.getThreadIDs(); // Map { 0 => 12345 }
   * ```
   */
  getThreadIDs(): Promise<VcpuThreadIds> {
    return withSpan('sandbox.getThreadIDs', { 'vmactor.sandbox.id': this.id }, async () => {
      const cpus = await this.requireQmp().execute('query-cpus-fast');
      const vcpus = new Map<number, number>();
      for (const c of cpus) if (c['thread-id'] > 0) vcpus.set(c['cpu-index'], c['thread-id']);
      return { vcpus };
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
   * console.log(await agent.request('ticks', []));
   * ```
   */
  agent(): Promise<GuestAgentClient> {
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

  /**
   * Runs a modifying operation through the machine (queued, one at a time; STOP pre-empts).
   * Resolves with the provider's result once `confirmed`; rejects with the provider's error, or a
   * {@link SandboxOperationError} when the machine refused or abandoned it.
   *
   * @example
   * ```ts
   * await sb.operate({ kind: 'hotplug', device: { kind: 'block', id: 'disk1', file: '/var/lib/disk1.img' } });
   * ```
   */
  operate(op: SandboxOperation, options: { id?: string } = {}): Promise<unknown> {
    this.operationCounter += 1;
    const id = options.id ?? `op-${this.operationCounter}`;
    return withSpan(
      'sandbox.operate',
      { 'vmactor.sandbox.id': this.id, 'vmactor.operation': op.kind },
      () => {
        if (this.actor.getSnapshot().status !== 'active') {
          return Promise.reject(new SandboxStateError('Expected a live sandbox, got `stopped`', 'stopped'));
        }
        const settled = new Promise<unknown>((resolve, reject) => {
          const sub = this.actor.on('operation', (e) => {
            if (e.id !== id) return;
            if (e.phase === 'confirmed') {
              sub.unsubscribe();
              resolve(e.result);
            } else if (e.phase === 'failed') {
              sub.unsubscribe();
              const err = e.error;
              if (err instanceof Error) reject(err);
              else {
                const r = (err ?? {}) as { code?: unknown; message?: unknown };
                reject(
                  new SandboxOperationError(
                    id,
                    String(r.code ?? 'ERR_UNKNOWN'),
                    String(r.message ?? 'failed'),
                  ),
                );
              }
            }
          });
        });
        this.actor.send({ type: 'OPERATION', id, op });
        return settled;
      },
    );
  }

  /** Stops and cleans up (`await using sb = await createSandbox(...)`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private requireQmp(): QmpClient {
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
      const phase = this.phase;
      if (phase !== 'running' && phase !== 'paused') {
        return Promise.reject(
          new SandboxStateError(`Expected the sandbox to be running or paused, got \`${phase}\``, phase),
        );
      }
      const stoppedWhile = (to: SandboxPhase) =>
        new SandboxStateError(
          `The sandbox stopped while ${command === 'pause' ? 'pausing' : 'resuming'}`,
          to,
        );
      const snapshot = this.actor.getSnapshot();
      if (snapshot.status !== 'active') return Promise.reject(stoppedWhile('stopped'));
      if (snapshot.matches({ active: { run: target } })) return Promise.resolve();
      // One settle for every outcome: the target phase, this command failing, or the sandbox
      // stopping (or its actor ending) first. Both listeners go as soon as one of them fires.
      return new Promise<void>((resolve, reject) => {
        const finish = (err?: Error): void => {
          if (!this.settlers.delete(onEnd)) return;
          lifecycle.unsubscribe();
          failed.unsubscribe();
          if (err) reject(err);
          else resolve();
        };
        const onEnd = (): void => finish(stoppedWhile('stopped'));
        this.settlers.add(onEnd);
        const lifecycle = this.actor.on('lifecycle', (e) => {
          if (e.to === target) finish();
          else if (e.to === 'stopping' || e.to === 'stopped') finish(stoppedWhile(e.to));
        });
        const failed = this.actor.on('command-failed', (e) => {
          if (e.command === command) finish(new SandboxCommandError(command, { cause: e.error }));
        });
        this.actor.send({ type: command === 'pause' ? 'PAUSE' : 'RESUME' });
      });
    });
  }

  /** Resolves with the first phase among `phases` the sandbox enters (or is in once `stopped`). */
  private until(phases: readonly SandboxPhase[]): Promise<SandboxPhase> {
    return new Promise((resolve) => {
      const sub = this.actor.on('lifecycle', (e) => {
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

/**
 * Creates a sandbox from an explicit plan (no config validation): the low-level entry used by
 * {@link createSandbox} and by tests that launch a bare QEMU. Nothing is launched until `start()`.
 *
 * @example
 * ```ts
 * const sb = openSandbox({ id: 'sb1', plan: (runDir) => ({ argv: [qemu, '-S', ...], paths: { runDir } }) });
 * await sb.start();
 * ```
 */
export function openSandbox(spec: SandboxSpec, options: SandboxOptions = {}): Sandbox {
  const base = options.runDir ?? defaultRunBase();
  const runDir = runDirFor(base, spec.id);
  const plan = spec.plan(runDir);
  for (const [key, value] of Object.entries(plan.paths)) {
    if (typeof value !== 'string' || key === 'runDir') continue;
    assertUnder(runDir, value);
    if (key.endsWith('Socket')) assertSocketPath(value);
  }
  const logger = (options.logger ?? rootLogger()).child({ sandboxId: spec.id });
  const runtime = new SandboxRuntime({
    sandboxId: spec.id,
    runDir,
    plan,
    logger,
    stopPolicy: { ...DEFAULT_STOP_POLICY, ...options.stopPolicy },
    qmpTimeoutMs: options.qmpTimeoutMs ?? 10_000,
    ...(options.netns === undefined ? {} : { netns: options.netns }),
  });
  return new Sandbox(spec.id, runtime, spec, logger, options.signal, options.operations);
}
