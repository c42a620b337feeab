// The sandbox lifecycle machine: pure XState v5 definition; effects are named here and provided by src/sandbox/.
//
// Phases: created → starting → running ⇄ paused → stopping → stopped (final, with `context.stopReason`).
// `running`/`paused` live in the `active` parallel state next to an `operation` region that serializes
// modifying operations (FIFO). Every change of the public phase emits exactly one `lifecycle` event.

import { assertEvent, enqueueActions, fromCallback, fromPromise, setup } from 'xstate';
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
  RolledBackError,
  RunOperationInput,
  SandboxContext,
  SandboxEmitted,
  SandboxEvent,
  SandboxMachineInput,
  SandboxOutput,
  SandboxPhase,
  ShutdownInput,
  StopDetails,
  StopReason,
  VmCommandInput,
  WatchInput,
} from './sandbox.types.js';
import { DEFAULT_START_TIMEOUT_MS } from './sandbox.types.js';

/** Placeholder for an effect the sandbox layer must provide with `.provide({ actors })`. */
function notProvided(name: string): never {
  throw new Error(`sandbox machine: actor \`${name}\` was not provided`);
}

/** Whether a runOperation rejection says the actor undid its earlier steps. */
export function isRolledBackError(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { rolledBack?: unknown }).rolledBack === true
  );
}

/** The failure a runOperation rejection carries: a {@link RolledBackError}'s `error`, else the rejection. */
export function operationFailure(error: unknown): unknown {
  return isRolledBackError(error) && (error as RolledBackError).error !== undefined
    ? (error as RolledBackError).error
    : error;
}

/** A refusal or abandonment of an operation by the machine itself. */
function refusal(code: OperationRefusal['code'], message: string): OperationRefusal {
  return { code, message };
}

/** Merge stop details, keeping earlier fields. */
function details(context: SandboxContext, extra: StopDetails): StopDetails {
  return { ...(context.stopError ?? {}), ...extra };
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
    events: {} as SandboxEvent,
    input: {} as SandboxMachineInput,
    output: {} as SandboxOutput,
    emitted: {} as SandboxEmitted,
  },
  actors: {
    launch: fromPromise<LaunchOutput, LaunchInput>(async () => notProvided('launch')),
    watch: fromCallback<SandboxEvent, WatchInput>(() => notProvided('watch')),
    pauseVm: fromPromise<void, VmCommandInput>(async () => notProvided('pauseVm')),
    resumeVm: fromPromise<void, VmCommandInput>(async () => notProvided('resumeVm')),
    runOperation: fromPromise<unknown, RunOperationInput>(async () => notProvided('runOperation')),
    dumpGuestMemory: fromPromise<void, DumpGuestMemoryInput>(async () => notProvided('dumpGuestMemory')),
    shutdown: fromPromise<void, ShutdownInput>(async () => notProvided('shutdown')),
    cleanup: fromPromise<void, CleanupInput>(async () => notProvided('cleanup')),
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
      event.type === 'operation.applied' && context.currentOperation?.id === event.id,
    isDuplicateOperation: ({ context, event }) =>
      event.type === 'OPERATION' &&
      (context.currentOperation?.id === event.id || context.operationQueue.some((q) => q.id === event.id)),
  },
  delays: {
    startTimeout: ({ context }) => context.startTimeoutMs,
  },
  actions: {
    /** Entry of a public phase: emit one lifecycle event if the phase changed, and record it. */
    enterPhase: enqueueActions(({ context, enqueue }, params: { phase: SandboxPhase }) => {
      if (context.phase === params.phase) return;
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
      enqueue.assign({ phase: params.phase });
    }),
    /** Record whether the next running/paused change is ours or someone else's. */
    setPauseReason: enqueueActions(({ enqueue }, params: { reason: 'requested' | 'external' }) => {
      enqueue.assign({ pauseReason: params.reason });
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
      const queued: QueuedOperation = { id: event.id, op: event.op, applied: false };
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
    /** runOperation rejected: `failed`, then `rolled-back` when the error says it undid its steps. */
    failOperation: enqueueActions(({ context, enqueue }, params: { error: unknown }) => {
      const current = context.currentOperation;
      if (current === null) return;
      const base = {
        type: 'operation',
        sandboxId: context.sandboxId,
        id: current.id,
        op: current.op,
      } as const;
      enqueue.emit({ ...base, phase: 'failed', error: operationFailure(params.error), at: Date.now() });
      if (isRolledBackError(params.error)) enqueue.emit({ ...base, phase: 'rolled-back', at: Date.now() });
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
      ({ context, enqueue }, params: { command: 'pause' | 'resume'; error: unknown }) => {
        enqueue.emit({
          type: 'command-failed',
          sandboxId: context.sandboxId,
          command: params.command,
          error: params.error,
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

/** Target of every transition that ends an active VM: the shutdown ladder. */
const STOPPING_LADDER = '#sandbox.stopping.ladder';

/**
 * The sandbox machine. Provide the effects with `.provide({ actors, guards })`.
 *
 * @example
 * ```ts
 * const machine = sandboxMachine.provide({ actors: { launch: fromPromise(async ({ input, signal }) => ...) } });
 * const actor = createActor(machine, { input: { sandboxId: 'sb1' } });
 * actor.on('lifecycle', (e) => console.log(e.from, '->', e.to, e.reason));
 * actor.start();
 * actor.send({ type: 'START' });
 * ```
 */
export const sandboxMachine = sandboxSetup.createMachine({
  id: 'sandbox',
  context: ({ input }) => ({
    sandboxId: input.sandboxId,
    phase: 'created',
    guestMemoryDump: input.guestMemoryDump ?? null,
    startTimeoutMs: input.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    launched: null,
    stopReason: null,
    stopError: null,
    waitOnly: false,
    pauseReason: null,
    exited: [],
    currentOperation: null,
    operationQueue: [],
  }),
  initial: 'created',
  output: ({ context }) => ({ stopReason: context.stopReason ?? 'requested', stopError: context.stopError }),
  states: {
    created: {
      on: {
        START: { target: 'starting' },
        STOP: { target: 'stopped', actions: 'recordStopRequest' },
        OPERATION: { actions: { type: 'refuseOperation', params: { code: 'ERR_SANDBOX_NOT_ACTIVE' } } },
      },
    },
    starting: {
      entry: { type: 'enterPhase', params: { phase: 'starting' } },
      invoke: {
        id: 'launch',
        src: 'launch',
        input: ({ context }) => ({ sandboxId: context.sandboxId }),
        onDone: {
          target: 'active',
          actions: { type: 'storeLaunched', params: ({ event }) => ({ launched: event.output }) },
        },
        onError: {
          target: 'stopping.cleanup',
          actions: { type: 'recordLaunchError', params: ({ event }) => ({ error: event.error }) },
        },
      },
      after: {
        startTimeout: { target: 'stopping.cleanup', actions: 'recordStartTimeout' },
      },
      on: {
        STOP: { target: 'stopping.cleanup', actions: 'recordStopRequest' },
        OPERATION: { actions: { type: 'refuseOperation', params: { code: 'ERR_SANDBOX_NOT_ACTIVE' } } },
      },
    },
    active: {
      type: 'parallel',
      invoke: {
        id: 'watch',
        src: 'watch',
        input: ({ context }) => ({ sandboxId: context.sandboxId, launched: context.launched! }),
        // The watcher failing means we lost sight of the VM: treat it like a QMP disconnect.
        onError: {
          target: STOPPING_LADDER,
          actions: { type: 'recordWatchError', params: ({ event }) => ({ error: event.error }) },
        },
      },
      exit: 'abortOperations',
      on: {
        STOP: { target: STOPPING_LADDER, actions: 'recordStopRequest' },
        'qmp.SHUTDOWN': [
          { guard: 'isGuestShutdown', target: STOPPING_LADDER, actions: 'recordShutdown' },
          { target: STOPPING_LADDER, actions: 'recordShutdown' },
        ],
        'qmp.GUEST_PANICKED': [
          { guard: 'hasDumpPath', target: '#sandbox.stopping.dumping', actions: 'recordPanic' },
          { target: STOPPING_LADDER, actions: 'recordPanic' },
        ],
        'qmp.disconnected': { target: STOPPING_LADDER, actions: 'recordDisconnect' },
        'process.exited': [
          { guard: 'isQemuExit', target: STOPPING_LADDER, actions: 'recordExit' },
          { guard: 'isVirtiofsdExit', target: STOPPING_LADDER, actions: 'recordExit' },
        ],
        'qmp.DEVICE_DELETED': { actions: 'emitDeviceDeleted' },
      },
      states: {
        run: {
          initial: 'running',
          states: {
            running: {
              entry: { type: 'enterPhase', params: { phase: 'running' } },
              on: {
                PAUSE: { target: 'pausing' },
                'qmp.STOP': {
                  target: 'paused',
                  actions: { type: 'setPauseReason', params: { reason: 'external' } },
                },
              },
            },
            pausing: {
              invoke: {
                id: 'pauseVm',
                src: 'pauseVm',
                input: ({ context }) => ({ sandboxId: context.sandboxId }),
                onDone: {
                  target: 'paused',
                  actions: { type: 'setPauseReason', params: { reason: 'requested' } },
                },
                onError: {
                  target: 'running',
                  actions: {
                    type: 'emitCommandFailed',
                    params: ({ event }) => ({ command: 'pause', error: event.error }),
                  },
                },
              },
              on: {
                'qmp.STOP': {
                  target: 'paused',
                  actions: { type: 'setPauseReason', params: { reason: 'requested' } },
                },
                RESUME: { target: 'resuming' },
              },
            },
            paused: {
              entry: { type: 'enterPhase', params: { phase: 'paused' } },
              on: {
                RESUME: { target: 'resuming' },
                'qmp.RESUME': {
                  target: 'running',
                  actions: { type: 'setPauseReason', params: { reason: 'external' } },
                },
              },
            },
            resuming: {
              invoke: {
                id: 'resumeVm',
                src: 'resumeVm',
                input: ({ context }) => ({ sandboxId: context.sandboxId }),
                onDone: {
                  target: 'running',
                  actions: { type: 'setPauseReason', params: { reason: 'requested' } },
                },
                onError: {
                  target: 'paused',
                  actions: {
                    type: 'emitCommandFailed',
                    params: ({ event }) => ({ command: 'resume', error: event.error }),
                  },
                },
              },
              on: {
                'qmp.RESUME': {
                  target: 'running',
                  actions: { type: 'setPauseReason', params: { reason: 'requested' } },
                },
                PAUSE: { target: 'pausing' },
              },
            },
          },
        },
        operation: {
          initial: 'idle',
          on: {
            OPERATION: [
              {
                guard: 'isDuplicateOperation',
                actions: { type: 'refuseOperation', params: { code: 'ERR_DUPLICATE_ID' } },
              },
              { actions: 'enqueueOperation' },
            ],
          },
          states: {
            idle: {
              always: { guard: 'hasQueuedOperation', target: 'admitting' },
            },
            admitting: {
              always: [
                {
                  guard: {
                    type: 'hasCapacity',
                    params: ({ context }) => ({
                      id: context.operationQueue[0]!.id,
                      op: context.operationQueue[0]!.op,
                    }),
                  },
                  target: 'busy',
                  actions: 'startNextOperation',
                },
                { target: 'idle', actions: 'refuseNoCapacity' },
              ],
            },
            busy: {
              invoke: {
                id: 'runOperation',
                src: 'runOperation',
                input: ({ context, self }) => {
                  const current = context.currentOperation!;
                  return {
                    sandboxId: context.sandboxId,
                    id: current.id,
                    op: current.op,
                    paused: context.phase === 'paused',
                    reportApplied: () => self.send({ type: 'operation.applied', id: current.id }),
                  };
                },
                onDone: {
                  target: 'idle',
                  actions: { type: 'confirmOperation', params: ({ event }) => ({ result: event.output }) },
                },
                onError: {
                  target: 'idle',
                  actions: { type: 'failOperation', params: ({ event }) => ({ error: event.error }) },
                },
              },
              on: {
                'operation.applied': { guard: 'isCurrentOperation', actions: 'markOperationApplied' },
              },
            },
          },
        },
      },
    },
    stopping: {
      entry: { type: 'enterPhase', params: { phase: 'stopping' } },
      on: {
        STOP: {},
        OPERATION: { actions: { type: 'refuseOperation', params: { code: 'ERR_SANDBOX_NOT_ACTIVE' } } },
      },
      initial: 'ladder',
      states: {
        dumping: {
          invoke: {
            id: 'dumpGuestMemory',
            src: 'dumpGuestMemory',
            input: ({ context }) => ({
              sandboxId: context.sandboxId,
              path: context.guestMemoryDump?.path ?? '',
              paging: context.guestMemoryDump?.paging ?? false,
            }),
            onDone: { target: 'ladder', actions: { type: 'recordDumpResult', params: { ok: true } } },
            onError: {
              target: 'ladder',
              actions: {
                type: 'recordDumpResult',
                params: ({ event }) => ({ ok: false, error: event.error }),
              },
            },
          },
        },
        ladder: {
          invoke: {
            id: 'shutdown',
            src: 'shutdown',
            input: ({ context }) => ({
              sandboxId: context.sandboxId,
              reason: context.stopReason ?? 'requested',
              waitOnly: context.waitOnly,
              qemuExited: context.exited.some((e) => e.which === 'qemu'),
              qemuShuttingDown: context.stopError?.shutdown !== undefined,
              virtiofsdExited: context.exited.some((e) => e.which === 'virtiofsd'),
              launched: context.launched,
            }),
            onDone: { target: '#sandbox.stopped' },
            onError: {
              target: '#sandbox.stopped',
              actions: { type: 'recordCleanupError', params: ({ event }) => ({ error: event.error }) },
            },
          },
        },
        cleanup: {
          invoke: {
            id: 'cleanup',
            src: 'cleanup',
            input: ({ context }) => ({
              sandboxId: context.sandboxId,
              reason: context.stopReason ?? 'start-failed',
              ...(context.stopError?.error === undefined ? {} : { error: context.stopError.error }),
            }),
            onDone: { target: '#sandbox.stopped' },
            onError: {
              target: '#sandbox.stopped',
              actions: { type: 'recordCleanupError', params: ({ event }) => ({ error: event.error }) },
            },
          },
        },
      },
    },
    stopped: {
      type: 'final',
      entry: { type: 'enterPhase', params: { phase: 'stopped' } },
    },
  },
});

/** The sandbox machine's type. */
export type SandboxMachine = typeof sandboxMachine;
