// Types of the sandbox machine: context, input, events, invoked-actor inputs/outputs, emitted events,
// and the names of every actor, action, guard and delay. Pure data; imports nothing with I/O.
// Over 400 lines on purpose: one file is the machine's whole type vocabulary (type-only, no logic).
//
// The sandbox layer (src/sandbox/) provides the real effects with
// `sandboxMachine.provide({ actors: { launch: fromPromise<LaunchOutput, LaunchInput>(...) , ... } })`.

import type { SandboxOperation } from './operation.types.js';

export type { SandboxOperation } from './operation.types.js';

/** The public (top-level) phases of a sandbox, used as `from`/`to` of lifecycle events. */
export type SandboxPhase = 'created' | 'starting' | 'running' | 'paused' | 'stopping' | 'stopped';

/** Every phase, in lifecycle order. */
export const SANDBOX_PHASES = [
  'created',
  'starting',
  'running',
  'paused',
  'stopping',
  'stopped',
] as const satisfies readonly SandboxPhase[];

/** Why a sandbox stopped (`context.stopReason` once it is `stopping`/`stopped`). */
export type StopReason =
  | 'requested'
  | 'guest-shutdown'
  | 'crashed'
  | 'start-failed'
  | 'virtiofsd-exited'
  | 'guest-panicked';

/** Every stop reason. */
export const STOP_REASONS = [
  'requested',
  'guest-shutdown',
  'crashed',
  'start-failed',
  'virtiofsd-exited',
  'guest-panicked',
] as const satisfies readonly StopReason[];

/** Why a sandbox moved between `running` and `paused`: our own command, or someone else (QMP event). */
export type PauseReason = 'requested' | 'external';

/** Reason carried by a lifecycle event: a stop reason for stopping/stopped, a pause reason otherwise. */
export type LifecycleReason = StopReason | PauseReason;

/** Which child process exited. */
export type ProcessName = 'qemu' | 'virtiofsd';

/** How a child process ended (`signal` is a name such as `SIGKILL`). */
export interface ProcessExit {
  readonly which: ProcessName;
  readonly code: number | null;
  readonly signal: string | null;
}

/** Who shut the VM down, from QMP `SHUTDOWN`'s `guest` field: the guest itself or the host side. */
export type ShutdownInitiator = 'guest' | 'host';

/** Details of why and how a sandbox stopped (plain data; errors are kept as given). */
export interface StopDetails {
  /** The launch error (start-failed), or the QMP disconnect cause (crashed). */
  readonly error?: unknown;
  /** The process exit that stopped the sandbox (crashed, virtiofsd-exited). */
  readonly exit?: ProcessExit;
  /** The QMP SHUTDOWN event data (guest-shutdown, or a host-initiated shutdown by someone else). */
  readonly shutdown?: { readonly guest: boolean; readonly reason?: string };
  /** The QMP GUEST_PANICKED event data. */
  readonly panic?: unknown;
  /** The guest memory dump written on panic (when configured). */
  readonly dump?: { readonly path: string; readonly ok: boolean; readonly error?: unknown };
  /** The shutdown ladder or start cleanup failed (the sandbox is still `stopped`). */
  readonly cleanupError?: unknown;
}

/** Where to dump guest memory on GUEST_PANICKED (Kata 2.x hypervisor.go's GuestMemoryDumpPath/Paging). */
export interface GuestMemoryDumpConfig {
  readonly path: string;
  readonly paging: boolean;
}

/** Input of the sandbox machine. */
export interface SandboxMachineInput {
  readonly sandboxId: string;
  /** Dump guest memory here before stopping on a guest panic; `null`/absent: no dump. */
  readonly guestMemoryDump?: GuestMemoryDumpConfig | null;
  /** Deadline of `starting` in ms (the `startTimeout` delay); default {@link DEFAULT_START_TIMEOUT_MS}. */
  readonly startTimeoutMs?: number;
}

/** Default deadline for `starting`. */
export const DEFAULT_START_TIMEOUT_MS = 30_000;

/**
 * What a sandbox actor's parent (the supervisor) is sent when the sandbox is detached: it stops
 * that child actor (`stopChild`), since xstate lets only the parent stop a child.
 */
export const SANDBOX_DETACHED = 'sandbox.detached' as const;

/** An operation waiting for, or holding, the sandbox's single operation slot. */
export interface QueuedOperation {
  /** Caller-chosen id correlating the request with its `operation` events. */
  readonly id: string;
  readonly op: SandboxOperation;
  /** True once the runOperation actor reported phase one (QEMU accepted the command). */
  readonly applied: boolean;
  /** True once the runOperation actor reported that it undid every step (before rejecting). */
  readonly rolledBack?: boolean;
}

/** What the launch actor returns: plain data. Live handles (QMP client, child processes) stay in the provider. */
export interface LaunchOutput {
  readonly qemuPid: number;
  readonly virtiofsdPid: number | null;
  readonly runDir: string;
}

/** Context of the sandbox machine. */
export interface SandboxContext {
  readonly sandboxId: string;
  /** The current public phase (mirrors the top-level state; lifecycle events are emitted on change). */
  readonly phase: SandboxPhase;
  readonly guestMemoryDump: GuestMemoryDumpConfig | null;
  readonly startTimeoutMs: number;
  /** Set when the launch succeeded. */
  readonly launched: LaunchOutput | null;
  /** Set on entering `stopping` (or `stopped` directly from `created`). */
  readonly stopReason: StopReason | null;
  readonly stopError: StopDetails | null;
  /** True when the stop is a wait-only stop (Kata 2.x `stopSandbox(waitOnly)`): no `quit`, just wait for exit. */
  readonly waitOnly: boolean;
  /** Whether the latest running⇄paused change was our command or someone else's (QMP event). */
  readonly pauseReason: PauseReason | null;
  /**
   * A pause and a resume overtook each other while in flight: the QMP `STOP`/`RESUME` events that
   * follow may be the overtaken command's, so only our last command's reply settles the change
   * (QEMU answers commands in order, after the events they caused). Cleared in running/paused.
   */
  readonly toggleOvertaken: boolean;
  /** Exits observed while active, then those the shutdown ladder reaped (QEMU's exit is never lost). */
  readonly exited: readonly ProcessExit[];
  /** The last lines QEMU wrote to stderr, as the runtime reported them with its exit (bounded). */
  readonly stderrTail: string | null;
  /** The operation holding the slot, if any. */
  readonly currentOperation: QueuedOperation | null;
  /** Operations waiting, first in first out. */
  readonly operationQueue: readonly QueuedOperation[];
}

// ---------------------------------------------------------------------------------------------
// Events

/** User: start the sandbox (only in `created`). */
export interface StartEvent {
  readonly type: 'START';
}
/** User: pause the VM (QMP `stop`). */
export interface PauseEvent {
  readonly type: 'PAUSE';
}
/** User: resume the VM (QMP `cont`). */
export interface ResumeEvent {
  readonly type: 'RESUME';
}
/** User: stop the sandbox; accepted in every state, idempotent. `waitOnly`: no `quit`, wait for the exit. */
export interface StopEvent {
  readonly type: 'STOP';
  readonly waitOnly?: boolean;
}
/** User: a modifying operation (serialized one at a time, FIFO). */
export interface OperationEvent {
  readonly type: 'OPERATION';
  readonly id: string;
  readonly op: SandboxOperation;
}
/** QMP `STOP` event: the VM stopped running (our pause, or someone else's). */
export interface QmpStopEvent {
  readonly type: 'qmp.STOP';
}
/** QMP `RESUME` event: the VM runs again (our resume, or someone else's). */
export interface QmpResumeEvent {
  readonly type: 'qmp.RESUME';
}
/** QMP `SHUTDOWN` event; `guest` is QMP's `guest` field (true: the guest powered off). */
export interface QmpShutdownEvent {
  readonly type: 'qmp.SHUTDOWN';
  readonly guest: boolean;
  /** QMP's `reason`, e.g. `guest-shutdown`, `host-qmp-quit`, `host-signal`. */
  readonly reason?: string;
}
/** QMP `GUEST_PANICKED` event (pvpanic). */
export interface QmpGuestPanickedEvent {
  readonly type: 'qmp.GUEST_PANICKED';
  readonly action?: string;
  readonly info?: unknown;
}
/** QMP `DEVICE_DELETED` event (phase two of an unplug). */
export interface QmpDeviceDeletedEvent {
  readonly type: 'qmp.DEVICE_DELETED';
  readonly device?: string;
  readonly path: string;
}
/** The QMP stream ended (EOF or error); terminal. */
export interface QmpDisconnectedEvent {
  readonly type: 'qmp.disconnected';
  readonly error?: unknown;
}
/** A child process exited. */
export interface ProcessExitedEvent extends ProcessExit {
  readonly type: 'process.exited';
  /** The last lines the process wrote to stderr (bounded), when the runtime has them. */
  readonly stderrTail?: string;
}
/** From the runOperation actor (through its input's `reportApplied`): phase one done. */
export interface OperationAppliedEvent {
  readonly type: 'operation.applied';
  readonly id: string;
}
/** From the runOperation actor (through its input's `reportRolledBack`): every earlier step was undone. */
export interface OperationRolledBackEvent {
  readonly type: 'operation.rolled-back';
  readonly id: string;
}

/** Our own QMP `stop` (pause) or `cont` (resume) was answered: sent by the provided `sendPause`/`sendResume`. */
export interface VmCommandAnsweredEvent {
  readonly type: 'vm.paused' | 'vm.resumed';
}
/** Our own QMP `stop` or `cont` failed (refused, deadline, disconnect): sent by `sendPause`/`sendResume`. */
export interface VmCommandFailedEvent {
  readonly type: 'vm.pause-failed' | 'vm.resume-failed';
  readonly error: unknown;
}

/** Events a user (the Sandbox handle) sends. */
export type SandboxUserEvent = StartEvent | PauseEvent | ResumeEvent | StopEvent | OperationEvent;

/** Events from outside (QMP, processes) that the `watch` actor (`fromEventObservable`) relays into the machine. */
export type SandboxWatchEvent =
  | QmpStopEvent
  | QmpResumeEvent
  | QmpShutdownEvent
  | QmpGuestPanickedEvent
  | QmpDeviceDeletedEvent
  | QmpDisconnectedEvent
  | ProcessExitedEvent;

/** Every event the sandbox machine accepts (done/error events of invoked actors come on top). */
export type SandboxMachineEvent =
  | SandboxUserEvent
  | SandboxWatchEvent
  | OperationAppliedEvent
  | OperationRolledBackEvent
  | VmCommandAnsweredEvent
  | VmCommandFailedEvent;

// ---------------------------------------------------------------------------------------------
// Emitted events (the sandbox layer maps them onto the public `sb.events$`; `actor.on('*', ...)` sees them raw)

/** Emitted exactly once per change of the public phase. */
export interface LifecycleEmitted {
  readonly type: 'lifecycle';
  readonly sandboxId: string;
  readonly from: SandboxPhase;
  readonly to: SandboxPhase;
  readonly reason?: LifecycleReason;
  /** For `stopping`/`stopped`: the stop details, when there are any. */
  readonly error?: StopDetails;
  /** Epoch milliseconds. */
  readonly at: number;
}

/** Phases of a modifying operation. */
export type OperationPhase = 'requested' | 'applied' | 'confirmed' | 'failed' | 'rolled-back';

/** Emitted for each phase of a modifying operation. */
export interface OperationEmitted {
  readonly type: 'operation';
  readonly sandboxId: string;
  readonly id: string;
  readonly op: SandboxOperation;
  readonly phase: OperationPhase;
  /** For `failed`: the actor's error, or an {@link OperationRefusal}. */
  readonly error?: unknown;
  /** For `confirmed`: the runOperation actor's output. */
  readonly result?: unknown;
  readonly at: number;
}

/** Why the machine itself refused or abandoned an operation (plain data; src/ maps it to a typed error). */
export interface OperationRefusal {
  readonly code: 'ERR_SANDBOX_NOT_ACTIVE' | 'ERR_NO_CAPACITY' | 'ERR_OPERATION_ABORTED' | 'ERR_DUPLICATE_ID';
  readonly message: string;
}

/** Emitted when our own pause/resume command failed (the phase did not change). */
export interface CommandFailedEmitted {
  readonly type: 'command-failed';
  readonly sandboxId: string;
  readonly command: 'pause' | 'resume';
  readonly error: unknown;
  readonly at: number;
}

/** Emitted for QMP DEVICE_DELETED while active. */
export interface DeviceDeletedEmitted {
  readonly type: 'device-deleted';
  readonly sandboxId: string;
  readonly device?: string;
  readonly path: string;
  readonly at: number;
}

/** Everything the sandbox machine emits. */
export type SandboxEmitted =
  | LifecycleEmitted
  | OperationEmitted
  | CommandFailedEmitted
  | DeviceDeletedEmitted;

/** The machine's output when it reaches `stopped`: why, and how QEMU ended. */
export interface SandboxOutput {
  readonly stopReason: StopReason;
  /** Everything recorded on the way (launch error, exits, SHUTDOWN/panic data, dump, cleanup error). */
  readonly stopError: StopDetails | null;
  /** QEMU's exit code/signal (`null` when QEMU never ran). */
  readonly exit: { readonly code: number | null; readonly signal: string | null } | null;
  /** The last lines QEMU wrote to stderr (bounded), when known. */
  readonly stderrTail: string | null;
  /** Who shut the VM down (QMP `SHUTDOWN`), `null` when no SHUTDOWN was seen (crash, kill, start failure). */
  readonly shutdownBy: ShutdownInitiator | null;
  /** Whether QEMU reported `GUEST_PANICKED`. */
  readonly guestPanicked: boolean;
}

// ---------------------------------------------------------------------------------------------
// Invoked actors: inputs and outputs. Each is invoked with `id` equal to its name.

/** `launch` (fromPromise): run dir, sockets, virtiofsd + QEMU, QMP negotiated, `cont` after `-S`. */
export interface LaunchInput {
  readonly sandboxId: string;
}

/** `watch` (fromEventObservable): relays {@link SandboxWatchEvent}s for the whole active life. */
export interface WatchInput {
  readonly sandboxId: string;
  readonly launched: LaunchOutput;
}

/** `runOperation` (fromPromise): one modifying operation; its `signal` fires when STOP pre-empts it. */
export interface RunOperationInput {
  readonly sandboxId: string;
  readonly id: string;
  readonly op: SandboxOperation;
  /** Whether the VM was paused when the operation started (guest-side confirmation cannot happen). */
  readonly paused: boolean;
  /** Call once QEMU accepted the command (phase one); emits the `applied` phase. */
  readonly reportApplied: () => void;
  /**
   * Call before rejecting when every earlier step was undone: the failure is then followed by the
   * `rolled-back` phase. Without it a rejection emits `failed` only.
   */
  readonly reportRolledBack: () => void;
}

/**
 * The plain-data form a provider may reject with instead of calling `reportRolledBack`: the sandbox
 * layer reports the rollback and the `failed` phase carries `error` (the machine never inspects it).
 */
export interface RolledBackError {
  readonly rolledBack: true;
  /** The failure itself (e.g. a `HotplugRolledBackError`): what the `failed` phase carries. */
  readonly error?: unknown;
}

/** `dumpGuestMemory` (fromPromise): dump-guest-memory before stopping on panic. */
export interface DumpGuestMemoryInput {
  readonly sandboxId: string;
  readonly path: string;
  readonly paging: boolean;
}

/** `shutdown` (fromPromise): the stop ladder quit→wait→SIGTERM→wait→SIGKILL→reap→cleanup. */
export interface ShutdownInput {
  readonly sandboxId: string;
  readonly reason: StopReason;
  /** Kata 2.x `stopSandbox(waitOnly)`: do not send `quit`, wait for QEMU to exit (then the rest of the ladder). */
  readonly waitOnly: boolean;
  /** QEMU already exited (crash seen) — skip quit/signals, reap and clean up. */
  readonly qemuExited: boolean;
  /** QMP SHUTDOWN was seen: QEMU is exiting by itself; wait for it before escalating (no `quit` needed). */
  readonly qemuShuttingDown: boolean;
  /** virtiofsd already exited. */
  readonly virtiofsdExited: boolean;
  /** What the launch returned (always set here: failed or aborted starts go to `cleanup` instead). */
  readonly launched: LaunchOutput | null;
}

/** What `shutdown` and `cleanup` resolve with: the exits the ladder reaped (plain data; may be absent). */
export interface ShutdownOutput {
  /** QEMU's exit, as reaped by the ladder. */
  readonly qemu?: { readonly code: number | null; readonly signal: string | null };
  /** virtiofsd's exit, as reaped by the ladder. */
  readonly virtiofsd?: { readonly code: number | null; readonly signal: string | null };
  /** The last lines QEMU wrote to stderr (bounded). */
  readonly stderrTail?: string;
}

/** `cleanup` (fromPromise): undo a partial or aborted start (kill what was spawned, remove run dir). */
export interface CleanupInput {
  readonly sandboxId: string;
  readonly reason: StopReason;
  readonly error?: unknown;
}

// ---------------------------------------------------------------------------------------------
// Names (stable: the sandbox layer provides implementations under these names)

/** Names of the invoked actors (also their invoke ids). */
export const SANDBOX_ACTORS = [
  'launch',
  'watch',
  'runOperation',
  'dumpGuestMemory',
  'shutdown',
  'cleanup',
] as const;
export type SandboxActorName = (typeof SANDBOX_ACTORS)[number];

/** Names of guards; `hasCapacity` is the one the provider implements (default: allow). */
export const SANDBOX_GUARDS = [
  'hasCapacity',
  'hasQueuedOperation',
  'hasDumpPath',
  'isGuestShutdown',
  'isQemuExit',
  'isVirtiofsdExit',
  'isCurrentOperation',
  'isDuplicateOperation',
  'isOwnToggleEvent',
] as const;
export type SandboxGuardName = (typeof SANDBOX_GUARDS)[number];

/** Names of actions (all implemented in the machine: assign/emit only; overriding them is not needed). */
export const SANDBOX_ACTIONS = [
  'enterPhase',
  'setPauseReason',
  'markToggleOvertaken',
  'storeLaunched',
  'recordStopRequest',
  'recordLaunchError',
  'recordStartTimeout',
  'recordShutdown',
  'recordPanic',
  'recordExit',
  'recordReaped',
  'recordDisconnect',
  'recordWatchError',
  'recordDumpResult',
  'recordCleanupError',
  'enqueueOperation',
  'refuseOperation',
  'startNextOperation',
  'refuseNoCapacity',
  'markOperationApplied',
  'markOperationRolledBack',
  'confirmOperation',
  'failOperation',
  'abortOperations',
  'emitCommandFailed',
  'emitDeviceDeleted',
] as const;
export type SandboxActionName = (typeof SANDBOX_ACTIONS)[number];

/**
 * Names of the actions the sandbox layer provides (effects; the setup's placeholders throw): our
 * own pause and resume. `sendPause`/`sendResume` (entry of `pausing`/`resuming`) write QMP
 * `stop`/`cont` and answer with `vm.paused`/`vm.resumed` or `vm.pause-failed`/`vm.resume-failed`;
 * `endVmCommand` (their exit) means a reply that comes later is not delivered, as leaving the state
 * of an invoked actor would stop it. An action, not an invoked actor: no child actor to create,
 * start and stop per call, and the command is written during the transition, not after it.
 */
export const SANDBOX_EFFECT_ACTIONS = ['sendPause', 'sendResume', 'endVmCommand'] as const;
export type SandboxEffectActionName = (typeof SANDBOX_EFFECT_ACTIONS)[number];

/** Names of delays. */
export const SANDBOX_DELAYS = ['startTimeout'] as const;
export type SandboxDelayName = (typeof SANDBOX_DELAYS)[number];

/** Parameters of the `hasCapacity` guard: the operation about to start. */
export interface HasCapacityParams {
  readonly id: string;
  readonly op: SandboxOperation;
}
