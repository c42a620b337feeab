// The live side of one sandbox: its processes, QMP client, console, and the effects the machine invokes.
// Slightly over 400 lines: launch, exit ordering and the stop ladder share one object's state; the
// process, output and watch pieces already live in src/process and their own modules.
import { ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  catchError,
  concatMap,
  defer,
  EMPTY,
  filter,
  from,
  map,
  merge,
  type Observable,
  of,
  race,
  Subject,
  take,
  timer,
} from 'rxjs';
import type {
  LaunchOutput,
  SandboxWatchEvent,
  ShutdownInput,
  ShutdownOutput,
} from '../../machines/sandbox.types.js';
import { QemuExitedEarlyError, VirtiofsdExitedEarlyError } from '../process/errors.js';
import type { ExitInfo } from '../process/exit.js';
import { type FileFollower, followFile } from '../process/follow-file.js';
import { checkNetns } from '../process/netns.js';
import { closeQuietly } from '../process/output-tee.js';
import {
  drainedWithin,
  type PassedFd,
  type QemuProcess,
  spawnQemu,
  stdioFor,
  type WatchedProcess,
} from '../process/qemu-process.js';
import { assertSocketPath, assertUnder, createRunDir, removeRunDir } from '../process/run-dir.js';
import { exitWithin, type StopPolicy, stopProcess } from '../process/stop-ladder.js';
import { launchVirtiofsd, type VirtiofsdProcess } from '../process/virtiofsd-process.js';
import { classifyQemuStartError, QemuRefusedError } from '../qemu/devices/refusal.js';
import { QmpClient } from '../qmp/client.js';
import { QmpTimeoutError } from '../qmp/errors.js';
import type { QmpEvent } from '../qmp/types.js';
import { ConsoleTap } from './console-tap.js';
import type { SandboxEvent } from './events.js';
import type { LaunchPlan } from './spec.js';

/** QEMU's log opened for appending (0600), or undefined (warned): its output then stays in memory only. */
function openLog(file: string, logger: Logger): number | undefined {
  try {
    return openSync(file, 'a', 0o600);
  } catch (err) {
    logger.warn({ err }, 'could not open the QEMU log; keeping its output in memory only');
    return undefined;
  }
}

/** Maps a QMP event onto the machine's watch events (others are ignored). */
export function watchEventOf(e: QmpEvent): SandboxWatchEvent | undefined {
  switch (e.event) {
    case 'STOP':
      return { type: 'qmp.STOP' };
    case 'RESUME':
      return { type: 'qmp.RESUME' };
    case 'SHUTDOWN': {
      const reason = typeof e.data.reason === 'string' ? e.data.reason : undefined;
      return { type: 'qmp.SHUTDOWN', guest: e.data.guest === true, ...(reason ? { reason } : {}) };
    }
    case 'GUEST_PANICKED': {
      const action = typeof e.data.action === 'string' ? e.data.action : undefined;
      return { type: 'qmp.GUEST_PANICKED', ...(action ? { action } : {}), info: e.data.info };
    }
    case 'DEVICE_DELETED': {
      const device = typeof e.data.device === 'string' ? e.data.device : undefined;
      const path = typeof e.data.path === 'string' ? e.data.path : '';
      return { type: 'qmp.DEVICE_DELETED', ...(device ? { device } : {}), path };
    }
    default:
      return undefined;
  }
}

/** Bytes of QEMU's output carried by its `process.exited` event (`stderrTail`). */
const EXIT_TAIL_BYTES = 4096;

/**
 * The machine's `process.exited` event; QEMU's also carries `stderrTail`, the last 4 KiB it
 * printed (the stop result's stderr tail), as extra data on the event.
 */
function exitEvent(which: 'qemu' | 'virtiofsd', x: ExitInfo, stderrTail?: string): SandboxWatchEvent {
  const event = {
    type: 'process.exited' as const,
    which,
    code: x.code,
    signal: x.signal,
    ...(stderrTail === undefined ? {} : { stderrTail: stderrTail.slice(-EXIT_TAIL_BYTES) }),
  };
  return event;
}

function exitData(x: ExitInfo | undefined): { code: number | null; signal: string | null } | undefined {
  return x === undefined ? undefined : { code: x.code, signal: x.signal };
}

/** Options of a {@link SandboxRuntime}. */
export interface RuntimeOptions {
  readonly sandboxId: string;
  readonly runDir: string;
  readonly plan: LaunchPlan;
  readonly logger: Logger;
  readonly stopPolicy: StopPolicy;
  /** Deadline for QEMU's QMP greeting and negotiation. */
  readonly qmpTimeoutMs: number;
  /** Start QEMU and virtiofsd inside this network namespace file (checked by `checkNetns` beforehand). */
  readonly netns?: string;
}

const EARLY_EXIT_GRACE_MS = 2_000;
/** How long an exited QEMU's QMP stream may take to reach EOF before the exit is reported anyway. */
const QMP_DRAIN_MS = 1_000;
const CONSOLE_LOG = 'console.log';

/** Routine chatter at debug; what looks like a problem at warn. */
function logLine(logger: Logger, source: 'qemu' | 'virtiofsd', line: string): void {
  if (/error|fail|warn/i.test(line)) logger.warn({ source }, line);
  else logger.debug({ source }, line);
}

/** The QEMU the runtime drives: spawned here, or adopted by pid after a reattach (no child, no fd 3). */
export type RuntimeQemu = WatchedProcess;
/** The virtiofsd the runtime drives: spawned here, or adopted by pid. */
export type RuntimeVirtiofsd = Pick<
  VirtiofsdProcess,
  'pid' | 'exit$' | 'exited' | 'exitInfo' | 'kill' | 'readLog'
>;

/** One sandbox's processes and connections; the effects of the machine run against it. */
export class SandboxRuntime {
  qemu: RuntimeQemu | undefined;
  virtiofsd: RuntimeVirtiofsd | undefined;
  qmp: QmpClient | undefined;
  console: ConsoleTap | undefined;
  /** Events made outside the machine (migration progress, `state-write-failed`, `reattached`); relayed to `sb.events$`. */
  readonly events = new Subject<SandboxEvent>();
  protected runDirCreated = false;
  protected readonly followers: FileFollower[] = [];
  protected launching: Promise<unknown> = Promise.resolve();
  protected tornDown: Promise<void> | undefined;
  private removed = false;
  /** The `quit` already sent (by {@link requestQuit}), if any. */
  private quitting: Promise<unknown> | undefined;

  constructor(readonly opts: RuntimeOptions) {}

  get logger(): Logger {
    return this.opts.logger;
  }

  /** Start: run dir 0700 → virtiofsd → QEMU → QMP negotiated → `cont` after `-S`. */
  launch(signal: AbortSignal): Promise<LaunchOutput> {
    const p = this.launch0(signal);
    this.launching = p.catch(() => undefined);
    return p;
  }

  private async launch0(signal: AbortSignal): Promise<LaunchOutput> {
    const { plan, runDir, logger, netns } = this.opts;
    // Planned fds are checked (open here, numbers free) before anything exists.
    const fds: PassedFd[] = (plan.fds ?? []).map((f) => ({
      fd: f.fd,
      hostFd: f.hostFd ?? f.fd,
      deviceId: f.deviceId,
    }));
    stdioFor(fds);
    if (netns !== undefined) await checkNetns(netns);
    await createRunDir(runDir);
    this.runDirCreated = true;
    await plan.hooks?.prepare?.();
    // QEMU's log opens before anything else; if even that fails, QEMU's output stays in memory.
    const qemuLogFile = join(runDir, 'qemu.log');
    let log = openLog(qemuLogFile, logger);
    let qemu: QemuProcess;
    try {
      signal.throwIfAborted();
      if (plan.virtiofsd && plan.paths.virtiofsdSocket) {
        const socketPath = assertSocketPath(assertUnder(runDir, plan.paths.virtiofsdSocket));
        const v = await launchVirtiofsd({
          argv: plan.virtiofsd.argv,
          socketPath,
          logFile: join(runDir, 'virtiofsd.log'),
          ...(netns === undefined ? {} : { netns }),
        });
        this.virtiofsd = v;
        void writeFile(join(runDir, 'virtiofsd.pid'), `${v.pid}\n`, { mode: 0o600 }).catch(() => {});
        void this.follow(v.logFile, 'virtiofsd');
        signal.throwIfAborted();
      }
      const handed = log;
      log = undefined;
      qemu = await spawnQemu({
        argv: plan.argv,
        logFile: qemuLogFile,
        log: handed ?? null,
        fds,
        ...(netns === undefined ? {} : { netns }),
        onLine: (line) => logLine(logger, 'qemu', line),
        onLogError: (err) =>
          logger.warn({ err }, 'writing the QEMU log failed; its output is kept in memory'),
      });
      this.qemu = qemu;
    } finally {
      if (log !== undefined) closeQuietly(log);
    }
    logger.debug({ pid: qemu.pid }, 'qemu spawned');

    let qmp: QmpClient;
    try {
      qmp = await QmpClient.connect(qemu.qmpSocket, {
        logger,
        signal,
        greetingTimeoutMs: this.opts.qmpTimeoutMs,
      });
    } catch (err) {
      throw signal.aborted ? err : await this.explainEarlyExit(err);
    }
    this.qmp = qmp;
    if (plan.hooks?.beforeCont) {
      try {
        await plan.hooks.beforeCont({
          sandboxId: this.opts.sandboxId,
          qmp,
          signal,
          logger,
          emit: (e) => this.events.next(e),
        });
      } catch (err) {
        if (signal.aborted) throw err;
        const explained = await this.explainEarlyExit(err);
        throw plan.hooks.explainFailure?.(explained) ?? explained;
      }
    }
    if (plan.argv.includes('-S')) await qmp.execute('cont', undefined, { signal });
    // Off the start path: the console attaches right after `running` is reported (the guest
    // prints nothing within a tick of QMP being ready; QEMU listens with `wait=off`).
    const tap = this.createConsole();
    setImmediate(() => {
      if (!this.tornDown) tap?.open();
    });
    return { qemuPid: qemu.pid, virtiofsdPid: this.virtiofsd?.pid ?? null, runDir };
  }

  /**
   * The outside events of the launched sandbox, for the machine's `watch` actor
   * (`fromEventObservable(() => runtime.watch$())`): QMP events, an unexpected QMP disconnect,
   * QEMU's and virtiofsd's exits. Built on subscription from the live streams; the exits are
   * replayed (they are `AsyncSubject`s), so an exit before the subscription is not lost. QMP
   * events before it (during the launch) are not relayed: the machine is still `starting`.
   */
  watch$(): Observable<SandboxWatchEvent> {
    return defer(() => {
      const { qemu, qmp, virtiofsd } = this;
      const sources: Observable<SandboxWatchEvent>[] = [];
      if (qmp) {
        sources.push(
          qmp.events$.pipe(
            map(watchEventOf),
            filter((e): e is SandboxWatchEvent => e !== undefined),
            catchError(() => EMPTY),
          ),
          this.disconnect$(qmp, qemu),
        );
      }
      if (qemu) sources.push(this.qemuExit$(qemu, qmp));
      if (virtiofsd) sources.push(this.virtiofsdExit$(virtiofsd));
      return merge(...sources);
    });
  }

  /**
   * QEMU's last QMP events (SHUTDOWN after a guest poweroff or someone's `quit`, GUEST_PANICKED)
   * are written before it exits, but the exit can be reaped before the socket is read. The exit is
   * reported once the QMP stream has been drained to EOF (bounded), so the cause comes first.
   */
  private qemuExit$(qemu: RuntimeQemu, qmp: QmpClient | undefined): Observable<SandboxWatchEvent> {
    return qemu.exit$.pipe(
      concatMap((x) =>
        qmp
          ? race(from(Promise.all([qmp.closed, qemu.outputDone])), timer(QMP_DRAIN_MS)).pipe(
              take(1),
              map(() => x),
            )
          : of(x),
      ),
      map((x) => exitEvent('qemu', x, qemu.outputTail())),
    );
  }

  /**
   * An unexpected QMP EOF is usually QEMU dying: then its exit (with the signal, e.g. SIGKILL) is
   * what the machine hears, not the socket error (`ECONNRESET`). Only when QEMU is still alive
   * after the drain window is the disconnect itself reported.
   */
  private disconnect$(qmp: QmpClient, qemu: RuntimeQemu | undefined): Observable<SandboxWatchEvent> {
    return from(qmp.closed).pipe(
      filter((info) => !info.expected),
      concatMap((info) =>
        qemu
          ? race(qemu.exit$.pipe(map(() => undefined)), timer(QMP_DRAIN_MS).pipe(map(() => info)))
          : of(info),
      ),
      filter((info) => info !== undefined),
      map(
        (info): SandboxWatchEvent => ({
          type: 'qmp.disconnected',
          ...(info.error ? { error: info.error } : {}),
        }),
      ),
    );
  }

  /**
   * virtiofsd also exits when QEMU dies (its vhost-user connection closes), and the two exits can
   * be reaped in either order. Before reporting `virtiofsd-exited`, one QMP round trip confirms
   * QEMU is alive; if it fails, QEMU is gone and its own exit (or QMP EOF) tells the story.
   */
  private virtiofsdExit$(v: RuntimeVirtiofsd): Observable<SandboxWatchEvent> {
    return v.exit$.pipe(
      concatMap((x) => {
        const { qmp, qemu } = this;
        if (!qmp || !qemu) return of(exitEvent('virtiofsd', x));
        if (qemu.exitInfo()) return EMPTY;
        return from(qmp.execute('query-status', undefined, { timeoutMs: 1_000 })).pipe(
          map(() => exitEvent('virtiofsd', x)),
          // A hung QEMU still lost its virtiofsd; a disconnect means QEMU is gone (reported by itself).
          catchError((err: unknown) =>
            err instanceof QmpTimeoutError ? of(exitEvent('virtiofsd', x)) : EMPTY,
          ),
        );
      }),
    );
  }

  /** Resolves once QEMU's output is at EOF and its log closed (bounded: `drainedWithin`). */
  private async outputDrained(): Promise<void> {
    const done = this.qemu?.outputDone;
    if (done) await drainedWithin(done);
  }

  /** The bounded tail of what QEMU printed (kept in memory: the log's filesystem may be full). */
  private stderrTail(): string | undefined {
    const tail = this.qemu?.outputTail();
    return tail ? tail.slice(-EXIT_TAIL_BYTES) : undefined;
  }

  /**
   * QMP failed during start: if QEMU exited, say so with what it printed (from memory: the log's
   * filesystem may be full). A refusal naming a missing host capability (vhost-vsock, vhost-net,
   * VFIO, hugepages) is that typed `Qemu…UnavailableError`; any other is {@link QemuExitedEarlyError}.
   */
  private async explainEarlyExit(err: unknown): Promise<unknown> {
    const qemu = this.qemu;
    if (!qemu) return err;
    const exit = await exitWithin(qemu, EARLY_EXIT_GRACE_MS);
    if (exit) {
      await this.outputDrained();
      const stderr = qemu.outputTail();
      const refusal = classifyQemuStartError(stderr);
      if (!(refusal instanceof QemuRefusedError)) return refusal;
      return new QemuExitedEarlyError(exit.code, exit.signal, stderr, { cause: err });
    }
    const v = this.virtiofsd;
    const vexit = v?.exitInfo();
    if (v && vexit) return new VirtiofsdExitedEarlyError(vexit.code, vexit.signal, await v.readLog());
    return err;
  }

  protected createConsole(): ConsoleTap | undefined {
    const path = this.opts.plan.paths.consoleSocket;
    if (!path) return undefined;
    const tap = new ConsoleTap(path, join(this.opts.runDir, CONSOLE_LOG), this.logger);
    this.console = tap;
    return tap;
  }

  protected async follow(file: string, source: 'virtiofsd'): Promise<void> {
    try {
      const f = await followFile(file, (line) => {
        if (line) logLine(this.logger, source, line);
      });
      if (this.tornDown) await f.close();
      else this.followers.push(f);
    } catch (err) {
      this.logger.debug({ err, source }, 'could not follow log');
    }
  }

  /**
   * Sends QMP `quit` once (later calls return the same reply): `sb.stop()` asks for it before the
   * machine's stop transition, so QEMU exits while the controller records `stopping`; the ladder's
   * request is then this one. Undefined when there is no live QEMU on QMP to ask.
   */
  requestQuit(): Promise<unknown> | undefined {
    if (this.quitting) return this.quitting;
    const { qemu, qmp } = this;
    if (!qemu || !qmp || qemu.exitInfo() !== undefined) return undefined;
    qmp.expectDisconnect();
    this.quitting = qmp.execute('quit', undefined, { timeoutMs: this.opts.stopPolicy.quitTimeoutMs });
    this.quitting.catch(() => {});
    return this.quitting;
  }

  /** The stop ladder: quit → wait → SIGTERM → wait → SIGKILL → reap; QEMU before virtiofsd; then cleanup. */
  async shutdown(input: ShutdownInput): Promise<ShutdownOutput> {
    await this.launching;
    const { stopPolicy: policy } = this.opts;
    const qemu = this.qemu;
    const qmp = this.qmp;
    let qemuExit: ExitInfo | undefined;
    if (qemu) {
      const polite =
        this.quitting !== undefined ||
        (!input.waitOnly && qmp !== undefined && qemu.exitInfo() === undefined);
      const request = polite ? () => this.requestQuit() ?? Promise.resolve() : undefined;
      const out = await stopProcess(qemu, policy, request);
      qemuExit = out.exit;
      this.logger.debug({ rung: out.rung, exit: out.exit }, 'qemu stopped');
    }
    const virtiofsdExit = await this.stopVirtiofsd(policy.termTimeoutMs);
    return this.reaped(qemuExit, virtiofsdExit);
  }

  /** Teardown and the output drain, then the stop result's process facts: the exits reaped and QEMU's output tail. */
  private async reaped(qemu: ExitInfo | undefined, virtiofsd: ExitInfo | undefined): Promise<ShutdownOutput> {
    // QEMU's output read to EOF and qemu.log closed before the stop resolves (bounded: a grandchild
    // could hold the pipes): nothing of the sandbox stays open in this process. The teardown runs
    // alongside (an open log may be unlinked; the run dir's removal retries a late file).
    await Promise.all([this.teardown(), this.outputDrained()]);
    const stderrTail = this.stderrTail();
    const q = exitData(qemu);
    const v = exitData(virtiofsd);
    return {
      ...(q ? { qemu: q } : {}),
      ...(v ? { virtiofsd: v } : {}),
      ...(stderrTail === undefined ? {} : { stderrTail }),
    };
  }

  /** Undo a failed or aborted start: wait for the launch to unwind, then signals and cleanup. */
  async cleanup(): Promise<ShutdownOutput> {
    await this.launching;
    const { stopPolicy: policy } = this.opts;
    const qemuExit = this.qemu
      ? (await stopProcess(this.qemu, { ...policy, quitTimeoutMs: 0 })).exit
      : undefined;
    const virtiofsdExit = await this.stopVirtiofsd(0);
    return this.reaped(qemuExit, virtiofsdExit);
  }

  private async stopVirtiofsd(graceMs: number): Promise<ExitInfo | undefined> {
    const v = this.virtiofsd;
    if (!v) return undefined;
    // virtiofsd exits by itself once QEMU's vhost-user connection closes; signals after the grace.
    const out = await stopProcess(v, { ...this.opts.stopPolicy, quitTimeoutMs: graceMs });
    this.logger.debug({ rung: out.rung, exit: out.exit }, 'virtiofsd stopped');
    return out.exit;
  }

  /**
   * Lets go of a VM that keeps running (detach): closes QMP, the console and the log followers,
   * releases adopted pidfds, and unrefs spawned children (QEMU runs on; its output pipes close).
   */
  async release(): Promise<void> {
    this.tornDown ??= (async () => {
      this.qmp?.expectDisconnect();
      this.qmp?.close();
      await Promise.all([this.console?.close(), ...this.followers.map((f) => f.close())]);
      for (const p of [this.qemu, this.virtiofsd] as const) {
        if (p && 'release' in p && typeof p.release === 'function') p.release();
        const child: unknown = p && 'child' in p ? p.child : undefined;
        if (child instanceof ChildProcess) {
          child.stdout?.destroy();
          child.stderr?.destroy();
          child.unref();
        }
      }
    })();
    return this.tornDown;
  }

  /** True once teardown removed the run dir (nothing left to persist into). */
  get runDirRemoved(): boolean {
    return this.removed;
  }

  /** Closes connections and followers, removes the run dir (idempotent). */
  teardown(): Promise<void> {
    this.tornDown ??= (async () => {
      this.qmp?.close();
      // All at once: reading or writing an unlinked file is fine, and removal retries if a late
      // file appears (ENOTEMPTY); the processes are gone by now.
      await Promise.all([
        this.console?.close(),
        ...this.followers.map((f) => f.close()),
        this.runDirCreated
          ? removeRunDir(this.opts.runDir).then(() => {
              this.removed = true;
            })
          : undefined,
        this.runDirCreated ? this.opts.plan.hooks?.teardown?.() : undefined,
      ]);
    })();
    return this.tornDown;
  }
}
