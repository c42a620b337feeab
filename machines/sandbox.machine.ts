// The sandbox lifecycle machine: pure XState v5 definition over sandboxSetup (sandbox.setup.ts); effects are provided by src/sandbox/.
//
// Phases: created → starting → running ⇄ paused → stopping → stopped (final, with `context.stopReason`).
// `running`/`paused` live in the `active` parallel state next to an `operation` region that serializes
// modifying operations (FIFO). Every change of the public phase emits exactly one `lifecycle` event.

import { outputOf, sandboxSetup } from './sandbox.setup.js';
import { DEFAULT_START_TIMEOUT_MS } from './sandbox.types.js';

export { sandboxSetup } from './sandbox.setup.js';

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
    toggleOvertaken: false,
    exited: [],
    stderrTail: null,
    currentOperation: null,
    operationQueue: [],
  }),
  initial: 'created',
  output: ({ context }) => outputOf(context),
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
              // Our `stop` is written by the entry action; its answer comes back as an event.
              entry: 'sendPause',
              exit: 'endVmCommand',
              on: {
                'vm.paused': {
                  target: 'paused',
                  actions: { type: 'setPauseReason', params: { reason: 'requested' } },
                },
                'vm.pause-failed': {
                  target: 'running',
                  actions: { type: 'emitCommandFailed', params: { command: 'pause' } },
                },
                'qmp.STOP': {
                  guard: 'isOwnToggleEvent',
                  target: 'paused',
                  actions: { type: 'setPauseReason', params: { reason: 'requested' } },
                },
                RESUME: { target: 'resuming', actions: 'markToggleOvertaken' },
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
              entry: 'sendResume',
              exit: 'endVmCommand',
              on: {
                'vm.resumed': {
                  target: 'running',
                  actions: { type: 'setPauseReason', params: { reason: 'requested' } },
                },
                'vm.resume-failed': {
                  target: 'paused',
                  actions: { type: 'emitCommandFailed', params: { command: 'resume' } },
                },
                'qmp.RESUME': {
                  guard: 'isOwnToggleEvent',
                  target: 'running',
                  actions: { type: 'setPauseReason', params: { reason: 'requested' } },
                },
                PAUSE: { target: 'pausing', actions: 'markToggleOvertaken' },
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
                    reportRolledBack: () => self.send({ type: 'operation.rolled-back', id: current.id }),
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
                'operation.rolled-back': { guard: 'isCurrentOperation', actions: 'markOperationRolledBack' },
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
            onDone: {
              target: '#sandbox.stopped',
              actions: { type: 'recordReaped', params: ({ event }) => ({ output: event.output }) },
            },
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
            onDone: {
              target: '#sandbox.stopped',
              actions: { type: 'recordReaped', params: ({ event }) => ({ output: event.output }) },
            },
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
