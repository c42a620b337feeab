// Keeps a sandbox's state.json current: rewritten atomically on every lifecycle, operation and device event (a move between running and paused right after the caller hears of it).

import type { ValidatedConfig } from '../config/types.js';
import type { DeviceRecordData } from '../devices/record-types.js';
import { procFacts } from '../process/proc-info.js';
import { argvHash } from '../qemu/argv-hash.js';
import type { SandboxEvent } from './events.js';
import type { Sandbox } from './sandbox.js';
import type { LaunchPlan } from './spec.js';
import { StateWriteError } from './state-errors.js';
import { needsFsync, stateSerializer, writeStateText } from './state-file.js';
import {
  MACHINE_VERSION,
  type OperationInFlight,
  type SandboxState,
  STATE_SCHEMA_NAME,
  STATE_VERSION,
} from './state-schema.js';

/** What the persister needs besides the sandbox itself. */
export interface PersistSource {
  readonly config: ValidatedConfig;
  readonly plan: LaunchPlan;
  readonly accelerator: 'kvm' | 'tcg';
  /** The device record now (the hot-plug provider's `record.peek()`: serialized at once, never kept), or null before the plan exists. */
  readonly record: () => Readonly<DeviceRecordData> | null;
  /** The in-flight operation a reattach found (carried until an operation event replaces it). */
  readonly operation?: OperationInFlight | null;
  /** Migration capabilities known to be set. */
  readonly migrationCapabilities?: Readonly<Record<string, boolean>>;
  /** Writes so far (an attached sandbox continues the count). */
  readonly seq?: number;
}

/** The live persister of one sandbox. */
export interface StatePersister {
  /** Writes now; `controller: null` marks the sandbox detached (anyone may attach). Throws {@link StateWriteError}. */
  flush(opts?: { detached?: boolean }): void;
  /** Stops writing (detach, or the sandbox stopped). */
  close(): void;
  /** Resolves once no write is waiting (a move between running and paused is written in the next turn of the loop). */
  idle(): Promise<void>;
  /** Writes done, failed (for tests and benchmarks). */
  readonly stats: { writes: number; failures: number };
}

/** The `-uuid` value in an argv, if any. */
export function uuidOf(argv: readonly string[]): string | null {
  const i = argv.indexOf('-uuid');
  return i >= 0 ? (argv[i + 1] ?? null) : null;
}

/** pid + /proc start time, read once per pid (a cache per sandbox: its processes' pids never change, but the host reuses pids). */
function pidStarts(): (pid: number | undefined) => { pid: number; startTime: number } | null {
  const starts = new Map<number, number>();
  return (pid) => {
    if (pid === undefined) return null;
    let startTime = starts.get(pid);
    if (startTime === undefined) {
      const f = procFacts(pid);
      if (!f) return null;
      startTime = f.startTime;
      starts.set(pid, startTime);
    }
    return { pid, startTime };
  };
}

/** The state fields that never change for one persister (serialized once, see `stateSerializer`). */
const FIXED_FIELDS: ReadonlySet<keyof SandboxState> = new Set<keyof SandboxState>([
  'schema',
  'version',
  'machineVersion',
  'sandboxId',
  'config',
  'argv',
  'argvHash',
  'virtiofsdArgv',
  'paths',
  'monitorSocket',
  'uuid',
  'accelerator',
]);

/** State fields whose values are replaced, never changed in place (the device record is copy-on-write). */
const IMMUTABLE_FIELDS: ReadonlySet<keyof SandboxState> = new Set<keyof SandboxState>(['devices']);

/** A public phase that is QEMU's run state, which attach reads from `query-status` (attach.ts), not from state.json. */
const isRunState = (phase: string): boolean => phase === 'running' || phase === 'paused';

/** A move between running and paused: written right after the caller's promise resolves, off its path. */
function deferrable(e: SandboxEvent): boolean {
  return e.type === 'lifecycle' && isRunState(e.from) && isRunState(e.to);
}

/** A write waiting for the next turn of the loop (or for a burst of pause/resume calls to end). */
interface PendingWrite {
  immediate: NodeJS.Immediate | undefined;
  readonly done: Promise<void>;
  readonly resolve: () => void;
}

/** The persister attached to `sb` by {@link persistSandboxState}, if any. */
export function persisterOf(sb: Sandbox): StatePersister | undefined {
  return sb.attachments.persister;
}

/**
 * Subscribes to `sb.events$` and rewrites `<runDir>/state.json` after every change of phase,
 * operation phase or device, before later subscribers (the caller's promise) hear of it. A move
 * between running and paused is the exception: it is written in the next turn of the loop (one
 * write for any number of moves in a turn, or after a burst of pause/resume calls once none is
 * pending), after `pause()`/`resume()` resolved, because the run state's truth is QEMU's
 * (`attachSandbox` asks `query-status`) and a synchronous write was a fifth of a pause;
 * {@link StatePersister.idle} waits for it. An operation's `applied` is written at the end of the
 * synchronous run that emitted it, so the `confirmed` that often follows at once shares its write
 * (a crash in between is a `requested` operation to reconcile, as any crash between QEMU's reply
 * and a write is). A write that fails is a `state-write-failed` event on `sb.events$` (a
 * {@link StateWriteError}) and a warning in the log; the previous file stays, the sandbox runs on, and the next change retries.
 *
 * @example
 * ```ts
 * persistSandboxState(sb, { config, plan, accelerator: 'tcg', record: () => hotplug.record.peek() });
 * ```
 */
export function persistSandboxState(sb: Sandbox, source: PersistSource): StatePersister {
  const runtime = sb.internalRuntime;
  const argv = source.plan.argv;
  const hash = argvHash(argv);
  const uuid = uuidOf(argv);
  const config = JSON.parse(JSON.stringify(source.config)) as Record<string, unknown>;
  let operation: OperationInFlight | null = source.operation ?? null;
  let seq = source.seq ?? 0;
  let closed = false;
  const stats = { writes: 0, failures: 0 };
  const pidStart = pidStarts();
  const serialize = stateSerializer(FIXED_FIELDS, IMMUTABLE_FIELDS);
  // The fixed fields once (serialized once too: see FIXED_FIELDS).
  const fixedArgv = [...argv];
  const virtiofsdArgv = source.plan.virtiofsd ? [...source.plan.virtiofsd.argv] : null;
  const paths = { ...source.plan.paths };
  // Asked once the run dir exists (the first write that finds it): tmpfs needs no fsync.
  let fsync: boolean | undefined;

  const build = (detached: boolean): SandboxState => {
    const phase = sb.phase;
    const qemu = runtime.qemu;
    const v = runtime.virtiofsd;
    seq += 1;
    return {
      schema: STATE_SCHEMA_NAME,
      version: STATE_VERSION,
      machineVersion: MACHINE_VERSION,
      sandboxId: sb.id,
      seq,
      writtenAt: new Date().toISOString(),
      controller: detached ? null : pidStart(process.pid),
      config,
      argv: fixedArgv,
      argvHash: hash,
      virtiofsdArgv,
      paths,
      monitorSocket: source.plan.paths.qmpSocket ?? '',
      uuid,
      accelerator: source.accelerator,
      qemu: qemu && qemu.exitInfo() === undefined ? pidStart(qemu.pid) : null,
      virtiofsd: v && v.exitInfo() === undefined ? pidStart(v.pid) : null,
      phase,
      devices: source.record() as SandboxState['devices'],
      migrationCapabilities: { ...(source.migrationCapabilities ?? {}) },
      operation,
    };
  };

  const write = (detached: boolean): void => {
    const text = serialize(build(detached));
    const wrote = writeStateText(sb.runDir, text, { fsync: fsync ?? true });
    if (wrote && fsync === undefined) fsync = needsFsync(sb.runDir);
    stats.writes += 1;
  };

  const track = (e: SandboxEvent): void => {
    if (e.type !== 'operation') return;
    if (e.phase === 'requested' || e.phase === 'applied') {
      const vmPhase = sb.phase === 'paused' ? 'paused' : 'running';
      operation = {
        id: e.id,
        kind: e.kind,
        op: JSON.parse(JSON.stringify(e.op)) as Record<string, unknown>,
        phase: e.phase,
        vmPhase: operation?.id === e.id ? operation.vmPhase : vmPhase,
      };
    } else if (operation?.id === e.id) {
      operation = null;
    }
  };

  // Writes now; a failure is a typed event and a warning, and the previous file stays.
  const writeOrReport = (): void => {
    try {
      write(false);
    } catch (err) {
      stats.failures += 1;
      const error = err instanceof StateWriteError ? err : new StateWriteError(sb.runDir, { cause: err });
      sb.logger.warn({ err: error }, 'state.json not written; the previous state stays');
      runtime.events.next({ type: 'state-write-failed', sandboxId: sb.id, error, at: Date.now() });
    }
  };

  // The write waiting for the next turn of the loop, if any (see `deferrable`). While a pause or
  // resume call is pending it waits for that to settle: a burst of toggles is one write after it,
  // and no write competes with a toggle's QMP round trip (here one made the next call ~0.3 ms slower).
  let soon: PendingWrite | null = null;
  const settleSoon = (): void => {
    if (soon === null) return;
    if (soon.immediate !== undefined) clearImmediate(soon.immediate);
    soon.resolve();
    soon = null;
  };
  const fireSoon = (mine: PendingWrite): void => {
    if (soon !== mine) return;
    mine.immediate = undefined;
    if (sb.togglesPending) {
      // Then the next turn again: the caller that was waiting goes first.
      void sb.togglesSettled().then(() => {
        if (soon === mine) mine.immediate = setImmediate(() => fireSoon(mine));
      });
      return;
    }
    settleSoon();
    if (!closed) writeOrReport();
  };
  const writeSoon = (): void => {
    if (soon !== null) return;
    let resolve = (): void => {};
    const done = new Promise<void>((r) => {
      resolve = r;
    });
    const mine: PendingWrite = { immediate: undefined, done, resolve };
    soon = mine;
    mine.immediate = setImmediate(() => fireSoon(mine));
  };

  // An operation's `applied` waits for the end of the current synchronous run (a microtask): when
  // QEMU's word ends phase two the machine emits `confirmed` right after it, and one write holds
  // both; either way it is on disk before any promise continuation (the caller's) runs.
  let microtaskPending = false;
  const writeInMicrotask = (): void => {
    if (microtaskPending) return;
    microtaskPending = true;
    queueMicrotask(() => {
      if (!microtaskPending) return;
      microtaskPending = false;
      if (!closed) writeOrReport();
    });
  };

  const sub = sb.events$.subscribe({
    next: (e) => {
      if (closed || e.type === 'state-write-failed' || e.type === 'command-failed') return;
      // Stopped with its run dir removed: there is no state.json left to update (a run dir that
      // could not be removed still gets its `stopped` record).
      if (e.type === 'lifecycle' && e.to === 'stopped' && runtime.runDirRemoved) return;
      // A device plugged or unplugged by an operation follows its `confirmed` event in the same
      // tick, and that write already holds the record with the change: nothing new to persist.
      if (e.type === 'device' && e.operationId !== undefined) return;
      track(e);
      if (deferrable(e)) {
        writeSoon();
        return;
      }
      if (e.type === 'operation' && e.phase === 'applied') {
        writeInMicrotask();
        return;
      }
      // This write holds everything a waiting one would.
      settleSoon();
      microtaskPending = false;
      writeOrReport();
    },
  });

  const persister: StatePersister = {
    flush: (opts = {}) => {
      settleSoon();
      microtaskPending = false;
      write(opts.detached === true);
    },
    close: () => {
      closed = true;
      settleSoon();
      sub.unsubscribe();
    },
    idle: () => soon?.done ?? Promise.resolve(),
    stats,
  };
  sb.attachments.persister = persister;
  return persister;
}
