// The sandbox machine's setup(): its types and every named actor, guard, delay and action (assign/emit only).
// Effects are placeholders here; src/sandbox/ provides them per sandbox with `.provide({ actors, guards })`.

import { assertEvent, assign, enqueueActions, fromEventObservable, fromPromise, setup } from 'xstate';
import type {
  CleanupInput,
  DumpGuestMemoryInput,
  HasCapacityParams,
  LaunchInput,
  LaunchOutput,
  LifecycleReason,
  OperationRefusal,
  ProcessExit,
  QueuedOperation,
  RunOperationInput,
  SandboxContext,
  SandboxEmitted,
  SandboxMachineEvent,
  SandboxMachineInput,
  SandboxOutput,
  SandboxPhase,
  SandboxWatchEvent,
  ShutdownInput,
  ShutdownOutput,
  StopDetails,
  StopReason,
  WatchInput,
} from './sandbox.types.js';

/** Placeholder for an effect the sandbox layer must provide with `.provide({ actors })`. */
function notProvided(name: string): never {
  throw new Error(`sandbox machine: actor \`${name}\` was not provided`);
}

/** A refusal or abandonment of an operation by the machine itself. */
function refusal(code: OperationRefusal['code'], message: string): OperationRefusal {
  return { code, message };
}

/** Merge stop details, keeping earlier fields. */
function details(context: SandboxContext, extra: StopDetails): StopDetails {
  return { ...(context.stopError ?? {}), ...extra };
}

/** The machine's output: the stop reason and details, plus QEMU's exit, stderr tail, shutdown initiator, panic. */
export function outputOf(context: SandboxContext): SandboxOutput {
  const qemu = context.exited.findLast((e) => e.which === 'qemu');
  const shutdown = context.stopError?.shutdown;
  return {
    stopReason: context.stopReason ?? 'requested',
    stopError: context.stopError,
    exit: qemu === undefined ? null : { code: qemu.code, signal: qemu.signal },
    stderrTail: context.stderrTail,
    shutdownBy: shutdown === undefined ? null : shutdown.guest ? 'guest' : 'host',
    guestPanicked: context.stopError?.panic !== undefined,
  };
}

/** The `reason` of the lifecycle event that enters `phase`. */
function lifecycleReason(context: SandboxContext, phase: SandboxPhase): LifecycleReason | undefined {
  if (phase === 'stopping' || phase === 'stopped') return context.stopReason ?? undefined;
  if (phase === 'running' || phase === 'paused') return context.pauseReason ?? undefined;
  return undefined;
}

/** The sandbox machine's setup: types and every named actor, action, guard and delay. */
export const sandboxSetup = setup({
  types: {
    context: {} as SandboxContext,
    events: {} as SandboxMachineEvent,
    input: {} as SandboxMachineInput,
    output: {} as SandboxOutput,
    emitted: {} as SandboxEmitted,
  },
  actors: {
    launch: fromPromise<LaunchOutput, LaunchInput>(async () => notProvided('launch')),
    watch: fromEventObservable<SandboxWatchEvent, WatchInput>(() => notProvided('watch')),
    runOperation: fromPromise<unknown, RunOperationInput>(async () => notProvided('runOperation')),
    dumpGuestMemory: fromPromise<void, DumpGuestMemoryInput>(async () => notProvided('dumpGuestMemory')),
    shutdown: fromPromise<ShutdownOutput | undefined, ShutdownInput>(async () => notProvided('shutdown')),
    cleanup: fromPromise<ShutdownOutput | undefined, CleanupInput>(async () => notProvided('cleanup')),
  },
  guards: {
    /** Provider: is there room (bridge slots, memory slots, maxmem, maxcpus) for this operation? */
    hasCapacity: (_args, _params: HasCapacityParams) => true,
    hasQueuedOperation: ({ context }) => context.operationQueue.length > 0,
    hasDumpPath: ({ context }) => context.guestMemoryDump !== null,
    isGuestShutdown: ({ event }) => event.type === 'qmp.SHUTDOWN' && event.guest,
    isQemuExit: ({ event }) => event.type === 'process.exited' && event.which === 'qemu',
    isVirtiofsdExit: ({ event }) => event.type === 'process.exited' && event.which === 'virtiofsd',
    isCurrentOperation: ({ context, event }) =>
      (event.type === 'operation.applied' || event.type === 'operation.rolled-back') &&
      context.currentOperation?.id === event.id,
    isDuplicateOperation: ({ context, event }) =>
      event.type === 'OPERATION' &&
      (context.currentOperation?.id === event.id || context.operationQueue.some((q) => q.id === event.id)),
    /** A QMP STOP/RESUME can settle our pause/resume only when no overtaken command's event may still come. */
    isOwnToggleEvent: ({ context }) => !context.toggleOvertaken,
  },
  delays: {
    startTimeout: ({ context }) => context.startTimeoutMs,
  },
  actions: {
    /** Provider (effect): write QMP `stop`; answer `vm.paused` or `vm.pause-failed` while `pausing` lasts. */
    sendPause: (_args, _params: undefined): void => {
      notProvided('sendPause');
    },
    /** Provider (effect): write QMP `cont`; answer `vm.resumed` or `vm.resume-failed` while `resuming` lasts. */
    sendResume: (_args, _params: undefined): void => {
      notProvided('sendResume');
    },
    /** Provider (effect): `pausing`/`resuming` was left; the command's reply, if it still comes, is not delivered. */
    endVmCommand: (_args, _params: undefined): void => {},
    /**
     * Entry of a public phase: emit one lifecycle event if the phase changed, and record it. Entering
     * running or paused also settles a pause/resume, clearing `toggleOvertaken` (one assign for both:
     * each assign copies the snapshot, and this runs on every pause and resume).
     */
    enterPhase: enqueueActions(({ context, enqueue }, params: { phase: SandboxPhase }) => {
      const settles = context.toggleOvertaken && (params.phase === 'running' || params.phase === 'paused');
      if (context.phase === params.phase) {
        if (settles) enqueue.assign({ toggleOvertaken: false });
        return;
      }
      const reason = lifecycleReason(context, params.phase);
      const error =
        (params.phase === 'stopping' || params.phase === 'stopped') && context.stopError !== null
          ? context.stopError
          : undefined;
      enqueue.emit({
        type: 'lifecycle',
        sandboxId: context.sandboxId,
        from: context.phase,
        to: params.phase,
        ...(reason === undefined ? {} : { reason }),
        ...(error === undefined ? {} : { error }),
        at: Date.now(),
      });
      enqueue.assign(settles ? { phase: params.phase, toggleOvertaken: false } : { phase: params.phase });
    }),
    /** Record whether the next running/paused change is ours or someone else's. */
    markToggleOvertaken: assign({ toggleOvertaken: true }),
    // Assign only on a change: every assign copies the snapshot (and works out its state value
    // again), and this runs on each pause and resume, where the reason rarely changes.
    setPauseReason: enqueueActions(({ context, enqueue }, params: { reason: 'requested' | 'external' }) => {
      if (context.pauseReason !== params.reason) enqueue.assign({ pauseReason: params.reason });
    }),
    storeLaunched: enqueueActions(({ enqueue }, params: { launched: LaunchOutput }) => {
      enqueue.assign({ launched: params.launched });
    }),
    /** STOP: reason `requested` (unless a reason is already set), remember waitOnly. */
    recordStopRequest: enqueueActions(({ context, enqueue, event }) => {
      assertEvent(event, 'STOP');
      enqueue.assign({
        stopReason: context.stopReason ?? 'requested',
        waitOnly: event.waitOnly === true,
      });
    }),
    recordLaunchError: enqueueActions(({ context, enqueue }, params: { error: unknown }) => {
      enqueue.assign({ stopReason: 'start-failed', stopError: details(context, { error: params.error }) });
    }),
    recordStartTimeout: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({
        stopReason: 'start-failed',
        stopError: details(context, {
          error: {
            code: 'ERR_START_TIMEOUT',
            message: `Start did not complete within ${context.startTimeoutMs} ms`,
          },
        }),
      });
    }),
    recordShutdown: enqueueActions(({ context, enqueue, event }) => {
      assertEvent(event, 'qmp.SHUTDOWN');
      const reason: StopReason = event.guest ? 'guest-shutdown' : 'requested';
      enqueue.assign({
        stopReason: reason,
        stopError: details(context, {
          shutdown:
            event.reason === undefined
              ? { guest: event.guest }
              : { guest: event.guest, reason: event.reason },
        }),
      });
    }),
    recordPanic: enqueueActions(({ context, enqueue, event }) => {
      assertEvent(event, 'qmp.GUEST_PANICKED');
      enqueue.assign({
        stopReason: 'guest-panicked',
        stopError: details(context, { panic: { action: event.action, info: event.info } }),
      });
    }),
    recordExit: enqueueActions(({ context, enqueue, event }) => {
      assertEvent(event, 'process.exited');
      const exit: ProcessExit = { which: event.which, code: event.code, signal: event.signal };
      enqueue.assign({
        stopReason: event.which === 'qemu' ? 'crashed' : 'virtiofsd-exited',
        stopError: details(context, { exit }),
        exited: [...context.exited, exit],
        ...(event.which === 'qemu' && event.stderrTail !== undefined ? { stderrTail: event.stderrTail } : {}),
      });
    }),
    /** The ladder (or start cleanup) reaped the processes: keep exits not seen as events, and QEMU's stderr tail. */
    recordReaped: enqueueActions(({ context, enqueue }, params: { output: ShutdownOutput | undefined }) => {
      const out = params.output;
      if (out === undefined) return;
      const exited = [...context.exited];
      for (const which of ['qemu', 'virtiofsd'] as const) {
        const x = out[which];
        if (x !== undefined && !exited.some((e) => e.which === which)) exited.push({ which, ...x });
      }
      enqueue.assign({
        exited,
        ...(out.stderrTail === undefined ? {} : { stderrTail: out.stderrTail }),
      });
    }),
    recordDisconnect: enqueueActions(({ context, enqueue, event }) => {
      assertEvent(event, 'qmp.disconnected');
      enqueue.assign({
        stopReason: 'crashed',
        stopError: details(context, event.error === undefined ? {} : { error: event.error }),
      });
    }),
    recordWatchError: enqueueActions(({ context, enqueue }, params: { error: unknown }) => {
      enqueue.assign({ stopReason: 'crashed', stopError: details(context, { error: params.error }) });
    }),
    recordDumpResult: enqueueActions(({ context, enqueue }, params: { ok: boolean; error?: unknown }) => {
      const path = context.guestMemoryDump?.path ?? '';
      const dump = params.ok ? { path, ok: true } : { path, ok: false, error: params.error };
      enqueue.assign({ stopError: details(context, { dump }) });
    }),
    recordCleanupError: enqueueActions(({ context, enqueue }, params: { error: unknown }) => {
      enqueue.assign({ stopError: details(context, { cleanupError: params.error }) });
    }),
    /** OPERATION accepted: emit `requested` and append it to the FIFO. */
    enqueueOperation: enqueueActions(({ context, enqueue, event }) => {
      assertEvent(event, 'OPERATION');
      enqueue.emit({
        type: 'operation',
        sandboxId: context.sandboxId,
        id: event.id,
        op: event.op,
        phase: 'requested',
        at: Date.now(),
      });
      const queued: QueuedOperation = { id: event.id, op: event.op, applied: false, rolledBack: false };
      enqueue.assign({ operationQueue: [...context.operationQueue, queued] });
    }),
    /** OPERATION refused outright (not active, duplicate id): emit `failed`. */
    refuseOperation: enqueueActions(
      ({ context, enqueue, event }, params: { code: OperationRefusal['code'] }) => {
        assertEvent(event, 'OPERATION');
        const message =
          params.code === 'ERR_DUPLICATE_ID'
            ? `Expected a unique operation id, got \`${event.id}\` which is already queued or running`
            : `Expected the sandbox to be running or paused, got \`${context.phase}\``;
        enqueue.emit({
          type: 'operation',
          sandboxId: context.sandboxId,
          id: event.id,
          op: event.op,
          phase: 'failed',
          error: refusal(params.code, message),
          at: Date.now(),
        });
      },
    ),
    /** Move the queue head into the operation slot. */
    startNextOperation: enqueueActions(({ context, enqueue }) => {
      const [head, ...rest] = context.operationQueue;
      if (head === undefined) return;
      enqueue.assign({ currentOperation: head, operationQueue: rest });
    }),
    /** The queue head does not fit (hasCapacity said no): drop it with `failed`. */
    refuseNoCapacity: enqueueActions(({ context, enqueue }) => {
      const [head, ...rest] = context.operationQueue;
      if (head === undefined) return;
      enqueue.emit({
        type: 'operation',
        sandboxId: context.sandboxId,
        id: head.id,
        op: head.op,
        phase: 'failed',
        error: refusal('ERR_NO_CAPACITY', `No capacity left for operation \`${head.id}\` (${head.op.kind})`),
        at: Date.now(),
      });
      enqueue.assign({ operationQueue: rest });
    }),
    /** Phase one reported by the runOperation actor. */
    markOperationApplied: enqueueActions(({ context, enqueue }) => {
      const current = context.currentOperation;
      if (current === null || current.applied) return;
      enqueue.emit({
        type: 'operation',
        sandboxId: context.sandboxId,
        id: current.id,
        op: current.op,
        phase: 'applied',
        at: Date.now(),
      });
      enqueue.assign({ currentOperation: { ...current, applied: true } });
    }),
    /** The runOperation actor undid every step it had done (reported before it rejects). */
    markOperationRolledBack: enqueueActions(({ context, enqueue }) => {
      const current = context.currentOperation;
      if (current === null) return;
      enqueue.assign({ currentOperation: { ...current, rolledBack: true } });
    }),
    /** runOperation resolved: `applied` (if not reported yet) then `confirmed`. */
    confirmOperation: enqueueActions(({ context, enqueue }, params: { result: unknown }) => {
      const current = context.currentOperation;
      if (current === null) return;
      const base = {
        type: 'operation',
        sandboxId: context.sandboxId,
        id: current.id,
        op: current.op,
      } as const;
      if (!current.applied) enqueue.emit({ ...base, phase: 'applied', at: Date.now() });
      enqueue.emit({ ...base, phase: 'confirmed', result: params.result, at: Date.now() });
      enqueue.assign({ currentOperation: null });
    }),
    /** runOperation rejected: `failed`, then `rolled-back` when the actor reported it undid its steps. */
    failOperation: enqueueActions(({ context, enqueue }, params: { error: unknown }) => {
      const current = context.currentOperation;
      if (current === null) return;
      const base = {
        type: 'operation',
        sandboxId: context.sandboxId,
        id: current.id,
        op: current.op,
      } as const;
      enqueue.emit({ ...base, phase: 'failed', error: params.error, at: Date.now() });
      if (current.rolledBack === true) enqueue.emit({ ...base, phase: 'rolled-back', at: Date.now() });
      enqueue.assign({ currentOperation: null });
    }),
    /** Leaving `active`: the running operation was stopped (its signal aborted), the queue is dropped. */
    abortOperations: enqueueActions(({ context, enqueue }) => {
      const pending = [
        ...(context.currentOperation === null ? [] : [context.currentOperation]),
        ...context.operationQueue,
      ];
      for (const q of pending) {
        enqueue.emit({
          type: 'operation',
          sandboxId: context.sandboxId,
          id: q.id,
          op: q.op,
          phase: 'failed',
          error: refusal('ERR_OPERATION_ABORTED', `Operation \`${q.id}\` abandoned: the sandbox is stopping`),
          at: Date.now(),
        });
      }
      if (pending.length > 0) enqueue.assign({ currentOperation: null, operationQueue: [] });
    }),
    emitCommandFailed: enqueueActions(
      ({ context, enqueue, event }, params: { command: 'pause' | 'resume' }) => {
        assertEvent(event, ['vm.pause-failed', 'vm.resume-failed']);
        enqueue.emit({
          type: 'command-failed',
          sandboxId: context.sandboxId,
          command: params.command,
          error: event.error,
          at: Date.now(),
        });
      },
    ),
    emitDeviceDeleted: enqueueActions(({ context, enqueue, event }) => {
      assertEvent(event, 'qmp.DEVICE_DELETED');
      enqueue.emit({
        type: 'device-deleted',
        sandboxId: context.sandboxId,
        ...(event.device === undefined ? {} : { device: event.device }),
        path: event.path,
        at: Date.now(),
      });
    }),
  },
});
