// The VM factory machine (Kata's factory/ cache): keeps `cacheSize` VMs started and ready, refills with bounded concurrency, hands one out per GET.
//
// Pure XState v5: `startVm` (one callback actor per VM being started, reporting VM_READY / VM_FAILED)
// and `drain` (stop everything at close) are placeholders; src/factory provides them.

import { assign, emit, enqueueActions, fromCallback, fromPromise, setup } from 'xstate';
import type {
  FactoryContext,
  FactoryEmitted,
  FactoryEvent,
  FactoryMachineInput,
  PooledVm,
  StartVmInput,
} from './factory.types.js';

export type * from './factory.types.js';

/** Placeholder for an effect src/factory provides with `.provide({ actors })`. */
function notProvided(name: string): never {
  throw new Error(`factory machine: actor \`${name}\` was not provided`);
}

/** The factory machine's setup: types, actors, guards and actions. */
export const factorySetup = setup({
  types: {
    context: {} as FactoryContext,
    events: {} as FactoryEvent,
    input: {} as FactoryMachineInput,
    emitted: {} as FactoryEmitted,
  },
  actors: {
    startVm: fromCallback<FactoryEvent, StartVmInput>(() => notProvided('startVm')),
    drain: fromPromise<void, void>(async () => notProvided('drain')),
  },
  guards: {
    hasCached: ({ context }) => context.cached.length > 0,
  },
  actions: {
    /** Starts VMs until cached + starting reaches cacheSize, at most `concurrency` at once; stops after `maxFailures` failures in a row. */
    refill: enqueueActions(({ context, enqueue }) => {
      if (context.failures >= context.maxFailures) return;
      const want = context.cacheSize - context.cached.length - context.starting;
      const room = context.concurrency - context.starting;
      const n = Math.max(0, Math.min(want, room));
      for (let i = 0; i < n; i++) {
        const key = `vm-${context.seq + i}`;
        enqueue.spawnChild('startVm', { id: key, input: { key } });
      }
      if (n > 0) enqueue.assign({ starting: context.starting + n, seq: context.seq + n });
    }),
    handOut: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'GET') return;
      const [vm, ...rest] = context.cached;
      if (!vm) return;
      enqueue.assign({ cached: rest });
      enqueue.emit({ type: 'handed-out', requestId: event.requestId, vm });
    }),
    miss: emit(({ event }) => ({
      type: 'miss' as const,
      requestId: event.type === 'GET' ? event.requestId : '',
    })),
    refuse: emit(({ event }) => ({
      type: 'refused' as const,
      requestId: event.type === 'GET' ? event.requestId : '',
    })),
    addReady: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'VM_READY') return;
      enqueue.stopChild(event.vm.key);
      enqueue.assign({
        cached: [...context.cached, event.vm],
        starting: Math.max(0, context.starting - 1),
        failures: 0,
      });
    }),
    recordFailure: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'VM_FAILED') return;
      enqueue.stopChild(event.key);
      enqueue.assign({ starting: Math.max(0, context.starting - 1), failures: context.failures + 1 });
      enqueue.emit({ type: 'start-failed', key: event.key, error: event.error });
    }),
    dropExited: assign({
      cached: ({ context, event }) =>
        event.type === 'VM_EXITED'
          ? context.cached.filter((vm: PooledVm) => vm.key !== event.key)
          : context.cached,
    }),
  },
});

/**
 * The VM factory machine. States: `running` (GET hands out the oldest ready VM, or emits `miss`
 * so the caller starts one directly, as Kata's `GetVM` does; every change refills) → `closing`
 * (`drain` stops every VM held or starting) → `closed`.
 *
 * @example
 * ```ts
 * const actor = createActor(factoryMachine.provide({ actors: { startVm, drain } }), { input: { cacheSize: 2 } });
 * actor.on('handed-out', (e) => console.log(e.vm.key));
 * actor.start();
 * actor.send({ type: 'GET', requestId: 'r1' });
 * ```
 */
export const factoryMachine = factorySetup.createMachine({
  id: 'factory',
  context: ({ input }) => ({
    cacheSize: input.cacheSize,
    concurrency: Math.max(1, input.concurrency ?? 1),
    maxFailures: Math.max(1, input.maxFailures ?? 3),
    cached: [],
    starting: 0,
    seq: 0,
    failures: 0,
  }),
  initial: 'running',
  states: {
    running: {
      entry: 'refill',
      on: {
        GET: [{ guard: 'hasCached', actions: ['handOut', 'refill'] }, { actions: ['miss', 'refill'] }],
        VM_READY: { actions: ['addReady', 'refill'] },
        VM_FAILED: { actions: ['recordFailure', 'refill'] },
        VM_EXITED: { actions: ['dropExited', 'refill'] },
        CLOSE: { target: 'closing' },
      },
    },
    closing: {
      invoke: { id: 'drain', src: 'drain', onDone: { target: 'closed' }, onError: { target: 'closed' } },
      on: {
        GET: { actions: 'refuse' },
      },
    },
    closed: { type: 'final' },
  },
});

/** The factory machine's type. */
export type FactoryMachine = typeof factoryMachine;
