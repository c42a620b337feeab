// attachSandbox: take over a sandbox whose controller died (or handed it off), in libvirt's qemuProcessReconnect order.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { AsyncSubject } from 'rxjs';
import type { AnyActorRef } from 'xstate';
import type { SandboxWatchEvent } from '../../machines/sandbox.types.js';
import { ConfigError } from '../config/config-error.js';
import type { ValidatedConfig } from '../config/types.js';
import { validateConfig } from '../config/validate.js';
import type { DeviceRecordData } from '../devices/record-types.js';
import type { HotplugDeadlines } from '../hotplug/context.js';
import { agentGuestProbe } from '../hotplug/guest-probe.js';
import { createHotplugProvider } from '../hotplug/provider.js';
import { rootLogger } from '../log.js';
import { type AdoptedProcess, adoptProcess, fileTail } from '../process/adopted-process.js';
import type { ExitInfo } from '../process/exit.js';
import { isSameProcess, procFacts } from '../process/proc-info.js';
import { removeRunDir, runDirFor } from '../process/run-dir.js';
import { DEFAULT_STOP_POLICY, exitWithin, type StopPolicy } from '../process/stop-ladder.js';
import { argvHash } from '../qemu/argv-hash.js';
import { QmpClient } from '../qmp/client.js';
import { QmpTimeoutError } from '../qmp/errors.js';
import { rolledBackBy } from './actors.js';
import { liveDevices, reconcileRecord, recoverOperation } from './attach-reconcile.js';
import { AttachedRuntime } from './attach-runtime.js';
import { parseHandle, type SandboxHandle } from './detach.js';
import { persistSandboxState } from './persist.js';
import type { RuntimeVirtiofsd } from './runtime.js';
import { DEFAULT_QMP_COMMAND_TIMEOUT_MS, Sandbox } from './sandbox.js';
import type { LaunchPlan, OperationProvider } from './spec.js';
import {
  MonitorBusyError,
  SandboxControlledError,
  SandboxGoneError,
  SandboxIdentityError,
  SandboxKilledOnAttachError,
  StateFileInvalidError,
  StateFileMissingError,
} from './state-errors.js';
import { readStateFile, stateFilePath } from './state-file.js';
import type { SandboxState } from './state-schema.js';

/** What reconciling found when a sandbox was attached (also carried by its `reattached` event). */
export interface ReattachReport {
  /** Differences between the persisted record and the live QEMU (the live QEMU won). */
  readonly differences: readonly string[];
  /** What was done about the operation in flight when the old controller died. */
  readonly recovered: readonly string[];
}

/**
 * The report of a sandbox made by {@link attachSandbox} (undefined for one made by createSandbox).
 *
 * @example
 * ```ts
 * const { differences, recovered } = reattachReport(await attachSandbox(runDir)) ?? { differences: [], recovered: [] };
 * ```
 */
export function reattachReport(sb: Sandbox): ReattachReport | undefined {
  return sb.attachments.reattach;
}

/** Options of {@link attachSandbox}. */
export interface AttachOptions {
  /** Parent logger (the sandbox logs through `logger.child({ sandboxId })`). */
  readonly logger?: Logger;
  /** Deadline for the second monitor's greeting: another client holding it is a `MonitorBusyError` after it. Default 5 000 ms. */
  readonly monitorTimeoutMs?: number;
  /** Deadline of each QMP command (queries during attach, then the handle's). Default 10 000 ms. */
  readonly qmpCommandTimeoutMs?: number;
  readonly stopPolicy?: Partial<StopPolicy>;
  /** The guest runs the default-guest agent (hot-plug phase two asks it), as in `createSandbox`. */
  readonly guestAgent?: boolean;
  readonly hotplugDeadlines?: Partial<HotplugDeadlines>;
  /** Aborting stops the sandbox. */
  readonly signal?: AbortSignal;
  /** The attached sandbox's actor becomes a child of this actor (`SandboxOptions.parentActor`). */
  readonly parentActor?: AnyActorRef;
}

/**
 * QEMU statuses of a VM that ended while no controller watched it: the machine is told with the
 * event QEMU emitted then, so it stops with that reason (a panicked guest's memory is dumped first
 * when the config asks for it, as for a live sandbox).
 */
const ENDED_STATUSES: Readonly<Record<string, SandboxWatchEvent>> = {
  'guest-panicked': { type: 'qmp.GUEST_PANICKED', action: 'pause' },
  shutdown: { type: 'qmp.SHUTDOWN', guest: true, reason: 'guest-shutdown' },
};

/** QEMU statuses that are a paused VM (`query-status`); `running` is running; the rest cannot be taken over. */
const PAUSED_STATUSES = new Set([
  'paused',
  'suspended',
  'postmigrate',
  'finish-migrate',
  'io-error',
  'debug',
  'watchdog',
  'save-vm',
  'restore-vm',
]);

/** The QEMU log's last 4 KiB (the stop result's `stderrTail` size). */
function logTail(runDir: string): string {
  return fileTail(`${runDir}/qemu.log`, 4096);
}

/** A pid from a pid file (QEMU's `-pidfile`, our `virtiofsd.pid`), if it names a live process whose argv mentions the run dir. */
function pidFromFile(file: string, runDir: string): { pid: number; startTime: number } | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  const f = procFacts(pid);
  if (!f || f.state === 'Z' || !f.argv.some((a) => a.includes(runDir))) return undefined;
  return { pid, startTime: f.startTime };
}

/**
 * Kills what a run dir still runs (QEMU first, then virtiofsd; each identified by pid + start time,
 * signalled through a pidfd so a reused pid is never hit) and removes the run dir.
 */
export async function killAndClean(
  runDir: string,
  state: SandboxState | undefined,
  policy: StopPolicy,
): Promise<void> {
  const targets = [
    state?.qemu ?? pidFromFile(`${runDir}/pid`, runDir),
    state?.virtiofsd ?? pidFromFile(`${runDir}/virtiofsd.pid`, runDir),
  ];
  for (const t of targets) {
    if (!t || !isSameProcess(t.pid, t.startTime)) continue;
    let p: AdoptedProcess;
    try {
      p = adoptProcess(t.pid, t.startTime, '/dev/null');
    } catch {
      continue;
    }
    p.kill('SIGKILL');
    await exitWithin(p, policy.killTimeoutMs);
    p.release();
  }
  await removeRunDir(runDir);
}

/** A virtiofsd that had already exited when we attached: its exit is replayed to the machine (`virtiofsd-exited`). */
function exitedVirtiofsd(pid: number): RuntimeVirtiofsd {
  const info: ExitInfo = { pid, code: null, signal: null };
  const subject = new AsyncSubject<ExitInfo>();
  subject.next(info);
  subject.complete();
  return {
    pid,
    exit$: subject.asObservable(),
    exited: Promise.resolve(info),
    exitInfo: () => info,
    kill: () => false,
    readLog: () => Promise.resolve(''),
  };
}

/** The schema's record as the device layer's type (a JSON-dropped `bus: undefined` restored). */
function recordData(r: SandboxState['devices']): DeviceRecordData | null {
  if (!r) return null;
  return { ...r, bridges: r.bridges.map((b) => ({ ...b, bus: b.bus })) } as DeviceRecordData;
}

function basenameOfExe(exe: string): string {
  return basename(exe.replace(/ \(deleted\)$/, ''));
}

/** Step 1 (libvirt: pid + start time + executable): is the recorded QEMU still ours? */
function checkIdentity(state: SandboxState): 'alive' | 'gone' {
  const q = state.qemu;
  if (!q) return 'gone';
  const f = procFacts(q.pid);
  if (!f || f.startTime !== q.startTime || f.state === 'Z' || f.state === 'X') return 'gone';
  const want = basename(state.argv[0] ?? '');
  if (f.exe !== undefined && basenameOfExe(f.exe) !== want) {
    throw new SandboxIdentityError(
      state.sandboxId,
      q.pid,
      `its executable is \`${f.exe}\`, expected \`${want}\``,
    );
  }
  if (argvHash(f.argv) !== state.argvHash) {
    throw new SandboxIdentityError(state.sandboxId, q.pid, 'its command line differs from the recorded one');
  }
  return 'alive';
}

function revalidate(state: SandboxState, file: string): ValidatedConfig {
  try {
    return validateConfig(state.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new StateFileInvalidError(
        file,
        err.issues.map((i) => `config.${i.path}: ${i.message}`),
        { cause: err },
      );
    }
    throw err;
  }
}

/** The run dir named by a path or a handle, checked (`<base>/<valid id>`). */
function runDirOf(target: string | SandboxHandle | unknown): { runDir: string; handle?: SandboxHandle } {
  if (typeof target === 'string' && !target.trimStart().startsWith('{')) {
    const abs = resolve(target);
    return { runDir: runDirFor(dirname(abs), basename(abs)) };
  }
  const handle = parseHandle(target);
  return { runDir: runDirFor(dirname(handle.runDir), basename(handle.runDir)), handle };
}

/**
 * Takes over a sandbox whose controller died, or one handed off with `sb.detach()`, and returns an
 * ordinary {@link Sandbox} in the phase QEMU is really in. libvirt's `qemuProcessReconnect` order:
 * read and validate state.json → pid + `/proc` start time + executable + argv hash (a reused pid
 * is never mistaken for ours) → connect the second monitor `qmp.sock` (the first was a socketpair
 * whose other end died with the old controller) within `monitorTimeoutMs` (QEMU serves one client:
 * another one holding it is a {@link MonitorBusyError}) → `qmp_capabilities` → `query-status` →
 * reconcile the device record with `query-pci`/`query-block`/`query-memory-devices`/
 * `query-hotpluggable-cpus` (the live QEMU wins) → recover the interrupted operation (and any
 * migration, by one `query-migrate`) → the actor runs; a `reattached` event follows on `events$`
 * (delivered on the next turn of the event loop, so subscribe right after the `await`). A QEMU
 * that ended while detached (`guest-panicked`, `shutdown`) is returned already `stopping` with that
 * reason (a panic's memory dumped first when the config asks); await `sb.stopped`.
 *
 * Outcomes other than a Sandbox, each a typed rejection: QEMU gone → {@link SandboxGoneError}
 * (`stopReason: 'crashed'`, the log tail; the run dir is cleaned); the controller died while the
 * sandbox was `starting` (or `stopping`), or QEMU is in a state that cannot be taken over
 * (`prelaunch`, `internal-error`, …), or the monitor is gone →
 * {@link SandboxKilledOnAttachError}, killed and cleaned; a live controller →
 * {@link SandboxControlledError}; a bad state file → `StateFileInvalidError` /
 * `StateFileVersionError`. Exits are watched through pidfds (no polling).
 *
 * @example
 * ```ts
 * const sb = await attachSandbox('/run/vmactor/web-1', { logger });
 * sb.events$.subscribe((e) => e.type === 'reattached' && console.log('took over', e.qemuPid, e.phase));
 * await sb.pause();
 * await sb.stop();
 * ```
 */
export async function attachSandbox(
  target: string | SandboxHandle,
  options: AttachOptions = {},
): Promise<Sandbox> {
  const { runDir, handle } = runDirOf(target);
  const policy = { ...DEFAULT_STOP_POLICY, ...options.stopPolicy };
  const file = stateFilePath(runDir);
  let state: SandboxState;
  try {
    state = readStateFile(runDir);
  } catch (err) {
    // No state.json but a run dir: the controller died while starting (before the first write).
    if (err instanceof StateFileMissingError && existsSync(runDir)) {
      await killAndClean(runDir, undefined, policy);
      throw new SandboxKilledOnAttachError(basename(runDir), 'starting', { cause: err });
    }
    throw err;
  }
  const id = state.sandboxId;
  if (id !== basename(runDir))
    throw new StateFileInvalidError(file, [`sandboxId: expected \`${basename(runDir)}\`, got \`${id}\``]);
  if (handle && (handle.sandboxId !== id || handle.qemuPid !== state.qemu?.pid)) {
    throw new StateFileInvalidError(file, ['the handle names another sandbox or QEMU than state.json']);
  }
  const c = state.controller;
  if (c && isSameProcess(c.pid, c.startTime)) throw new SandboxControlledError(id, c.pid);
  const config = revalidate(state, file);

  if (state.phase !== 'running' && state.phase !== 'paused') {
    await killAndClean(runDir, state, policy);
    throw new SandboxKilledOnAttachError(id, state.phase === 'stopping' ? 'stopping' : 'starting');
  }
  if (checkIdentity(state) === 'gone') {
    const tail = logTail(runDir);
    await killAndClean(runDir, { ...state, qemu: null }, policy);
    throw new SandboxGoneError(id, tail);
  }
  const qemuRec = state.qemu as NonNullable<SandboxState['qemu']>;
  const qemu = adoptProcess(qemuRec.pid, qemuRec.startTime, `${runDir}/qemu.log`);
  const logger = (options.logger ?? rootLogger()).child({ sandboxId: id });
  const commandMs = options.qmpCommandTimeoutMs ?? DEFAULT_QMP_COMMAND_TIMEOUT_MS;
  const monitorMs = options.monitorTimeoutMs ?? 5_000;

  let qmp: QmpClient;
  try {
    qmp = await QmpClient.connectUnix(state.monitorSocket, { logger, greetingTimeoutMs: monitorMs });
  } catch (err) {
    if (err instanceof QmpTimeoutError) {
      qemu.release();
      throw new MonitorBusyError(state.monitorSocket, monitorMs, { cause: err });
    }
    qemu.release();
    await killAndClean(runDir, state, policy);
    throw new SandboxKilledOnAttachError(id, 'unreconcilable', { cause: err });
  }

  let virtiofsd: RuntimeVirtiofsd | undefined;
  let record: DeviceRecordData | null = recordData(state.devices);
  let differences: string[] = [];
  let recovered: string[] = [];
  let paused: boolean;
  let ended: SandboxWatchEvent | undefined;
  try {
    let status = (await qmp.execute('query-status', undefined, { timeoutMs: commandMs })).status;
    ended = ENDED_STATUSES[status];
    if (status !== 'running' && !PAUSED_STATUSES.has(status) && !ended) {
      throw new Error(`QEMU is \`${status}\`, which cannot be taken over`);
    }
    paused = status !== 'running';
    if (record) {
      const live = await liveDevices(qmp, commandMs);
      const r = reconcileRecord(record, live, state.argv);
      differences = r.differences;
      const op = await recoverOperation(qmp, state.operation, r.record, live, {
        timeoutMs: commandMs,
        paused,
      });
      record = op.record;
      recovered = op.recovered;
      if (recovered.some((x) => x.startsWith('resumed'))) {
        status = (await qmp.execute('query-status', undefined, { timeoutMs: commandMs })).status;
        paused = status !== 'running';
      }
    }
    const v = state.virtiofsd;
    if (v)
      virtiofsd = isSameProcess(v.pid, v.startTime)
        ? adoptProcess(v.pid, v.startTime, `${runDir}/virtiofsd.log`)
        : exitedVirtiofsd(v.pid);
  } catch (err) {
    qmp.close();
    qemu.release();
    logger.warn({ err }, 'reattach: could not reconcile the sandbox; killing it');
    await killAndClean(runDir, state, policy);
    throw new SandboxKilledOnAttachError(id, 'unreconcilable', { cause: err });
  }
  for (const d of differences) logger.warn({ difference: d }, 'reattach: the record differed from QEMU');
  for (const r of recovered) logger.info({ recovered: r }, 'reattach: interrupted operation');

  const plan: LaunchPlan = {
    argv: state.argv,
    paths: state.paths,
    ...(state.virtiofsdArgv ? { virtiofsd: { argv: state.virtiofsdArgv } } : {}),
  };
  let sandbox: Sandbox | undefined;
  const hotplug = record
    ? createHotplugProvider({
        config: config.hypervisor,
        record,
        accelerator: state.accelerator,
        ...(options.hotplugDeadlines ? { deadlines: options.hotplugDeadlines } : {}),
        ...(options.guestAgent
          ? { guest: async () => (sandbox ? agentGuestProbe(await sandbox.agent()) : undefined) }
          : {}),
      })
    : undefined;
  const operations: OperationProvider | undefined = hotplug && {
    run: (input, ctx) => hotplug.run(input, ctx),
    hasCapacity: (params) => hotplug.hasCapacity(params),
    rolledBack: (err) => rolledBackBy(hotplug, err),
    devices: () => hotplug.devices(),
    checksDeviceSpecs: true,
  };
  const runtime = new AttachedRuntime(
    { sandboxId: id, runDir, plan, logger, stopPolicy: policy, qmpTimeoutMs: monitorMs },
    { qemu, virtiofsd, qmp, initial: ended ?? (paused ? { type: 'qmp.STOP' } : undefined) },
  );
  const hv = config.hypervisor;
  sandbox = new Sandbox({
    id,
    runtime,
    spec: {
      id,
      plan: () => plan,
      config,
      guestMemoryDump: hv.guestMemoryDumpPath
        ? { path: hv.guestMemoryDumpPath, paging: hv.guestMemoryDumpPaging }
        : null,
    },
    logger,
    signal: options.signal,
    operations,
    qmpCommandTimeoutMs: commandMs,
    parentActor: options.parentActor,
  });
  const sb = sandbox;
  const want = ended ? 'stopping' : paused ? 'paused' : 'running';
  const reached = new Promise<void>((res) => {
    const sub = sb.events$.subscribe({
      next: (e) => {
        if (e.type === 'lifecycle' && (e.to === want || e.to === 'stopping' || e.to === 'stopped')) {
          sub.unsubscribe();
          res();
        }
      },
      complete: () => res(),
    });
  });
  sb.actor.send({ type: 'START' });
  await reached;
  // Persisted from here on (never `starting`: a crash while attaching must not look like one while starting).
  const persister = persistSandboxState(sb, {
    config,
    plan,
    accelerator: state.accelerator,
    record: () => hotplug?.record.peek() ?? null,
    migrationCapabilities: state.migrationCapabilities,
    seq: state.seq,
  });
  void sb.stopped.then(() => persister.close());
  if (sb.phase === 'running' || sb.phase === 'paused') {
    persister.flush();
    const phase = sb.phase;
    sb.attachments.reattach = { differences, recovered };
    setImmediate(() =>
      sb.internalRuntime.events.next({
        type: 'reattached',
        sandboxId: id,
        phase,
        qemuPid: qemu.pid,
        differences,
        recovered,
        at: Date.now(),
      }),
    );
  }
  return sb;
}
