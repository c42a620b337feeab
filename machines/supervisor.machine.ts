// The supervisor machine: recover at boot, then admit/track sandboxes under the host's limits, then drain.
import { assertEvent, assign, emit, fromPromise, setup, stopChild } from 'xstate';
import { SANDBOX_DETACHED } from './sandbox.types.js';
import {
  admissionRefusal,
  type SupervisorContext,
  type SupervisorEmitted,
  type SupervisorInput,
  type SupervisorMachineEvent,
} from './supervisor.types.js';

/** Placeholder effect: `src/supervisor` provides the real one. */
function unprovided(name: string): never {
  throw new Error(`supervisor machine: actor \`${name}\` was not provided`);
}

/** The supervisor machine's names: the `recover` and `drain` effects, the admission guard, its actions. */
export const supervisorSetup = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorMachineEvent,
    emitted: {} as SupervisorEmitted,
    input: {} as SupervisorInput,
  },
  actors: {
    /** Boot-time recovery of the run base (reattach sandboxes); a no-op until reattach exists. */
    recover: fromPromise<void, void>(async () => unprovided('recover')),
    /** Shutdown: stop every sandbox (`stopSandboxes`) or leave them running. */
    drain: fromPromise<void, { stopSandboxes: boolean }>(async () => unprovided('drain')),
  },
  guards: {
    admissible: ({ context, event }) => {
      assertEvent(event, 'ADMIT');
      return admissionRefusal(context, event.id, event.memoryMiB) === undefined;
    },
  },
  actions: {
    admit: assign({
      sandboxes: ({ context, event }) => {
        assertEvent(event, 'ADMIT');
        return { ...context.sandboxes, [event.id]: { memoryMiB: event.memoryMiB, live: true } };
      },
    }),
    emitAdmitted: emit(({ event }) => {
      assertEvent(event, 'ADMIT');
      return { type: 'admitted' as const, id: event.id, memoryMiB: event.memoryMiB };
    }),
    emitRefused: emit(({ context, event }) => {
      assertEvent(event, 'ADMIT');
      const refusal = admissionRefusal(context, event.id, event.memoryMiB) ?? {
        reason: 'duplicate-id' as const,
        message: `A sandbox with id \`${event.id}\` exists already`,
      };
      return { type: 'refused' as const, id: event.id, refusal };
    }),
    emitNotServing: emit(({ event }) => {
      assertEvent(event, 'ADMIT');
      const refusal = { reason: 'not-serving' as const, message: 'The supervisor is not serving' };
      return { type: 'refused' as const, id: event.id, refusal };
    }),
    adopt: assign({
      sandboxes: ({ context, event }) => {
        assertEvent(event, 'ADOPT');
        return { ...context.sandboxes, [event.id]: { memoryMiB: event.memoryMiB, live: true } };
      },
    }),
    markStopped: assign({
      sandboxes: ({ context, event }) => {
        assertEvent(event, 'STOPPED');
        const s = context.sandboxes[event.id];
        return s ? { ...context.sandboxes, [event.id]: { ...s, live: false } } : context.sandboxes;
      },
    }),
    forget: assign({
      sandboxes: ({ context, event }) => {
        assertEvent(event, 'FORGET');
        const { [event.id]: _gone, ...rest } = context.sandboxes;
        return rest;
      },
    }),
    emitForgotten: emit(({ event }) => {
      assertEvent(event, 'FORGET');
      return { type: 'forgotten' as const, id: event.id };
    }),
    /** A detached sandbox's actor (a child in this system) is stopped by its parent, as xstate requires. */
    stopDetached: stopChild(({ event }) => {
      assertEvent(event, SANDBOX_DETACHED);
      return event.actor;
    }),
  },
});

/** Held sandboxes are tracked in every state but `closed`. */
const tracking = {
  ADOPT: { actions: 'adopt' },
  STOPPED: { actions: 'markStopped' },
  FORGET: { actions: ['forget', 'emitForgotten'] },
} as const;

/**
 * `recovering` (invoke `recover`) → `serving` (ADMIT under the limits) → `draining` (invoke
 * `drain`, on SHUTDOWN) → `closed`. ADOPT, STOPPED and FORGET are taken in every state but `closed`.
 * Sandbox actors are children in this machine's actor system (`sandbox:<id>`): a detached one is
 * stopped here, and a sandbox actor's error is taken (its handle reports it) so it does not fail
 * the supervisor.
 */
export const supervisorMachine = supervisorSetup.createMachine({
  id: 'supervisor',
  context: ({ input }) => ({ limits: input.limits, sandboxes: {}, recoveryError: undefined }),
  initial: 'recovering',
  on: {
    [SANDBOX_DETACHED]: { actions: 'stopDetached' },
    'xstate.error.actor.*': {},
  },
  states: {
    recovering: {
      invoke: {
        id: 'recover',
        src: 'recover',
        onDone: { target: 'serving' },
        onError: {
          target: 'serving',
          actions: assign({ recoveryError: ({ event }) => event.error }),
        },
      },
      on: { ...tracking, ADMIT: { actions: 'emitNotServing' }, SHUTDOWN: { target: 'draining' } },
    },
    serving: {
      on: {
        ...tracking,
        ADMIT: [{ guard: 'admissible', actions: ['admit', 'emitAdmitted'] }, { actions: 'emitRefused' }],
        SHUTDOWN: { target: 'draining' },
      },
    },
    draining: {
      invoke: {
        id: 'drain',
        src: 'drain',
        input: ({ event }) => ({ stopSandboxes: event.type === 'SHUTDOWN' && event.stopSandboxes }),
        onDone: { target: 'closed' },
        onError: { target: 'closed' },
      },
      on: { ...tracking, ADMIT: { actions: 'emitNotServing' } },
    },
    closed: { type: 'final' },
  },
});

/** The supervisor machine's type. */
export type SupervisorMachine = typeof supervisorMachine;
