// Shared helpers for the pure sandbox-machine tests: stepping with xstate's pure API and reading emitted events.

import { Observable } from 'rxjs';
import {
  createActor,
  fromEventObservable,
  fromPromise,
  initialTransition,
  type SnapshotFrom,
  transition,
} from 'xstate';
import { sandboxMachine } from '../../machines/sandbox.machine.js';
import type {
  CleanupInput,
  DumpGuestMemoryInput,
  LaunchInput,
  LaunchOutput,
  LifecycleEmitted,
  RunOperationInput,
  SandboxEmitted,
  SandboxMachineEvent,
  SandboxMachineInput,
  SandboxOutput,
  SandboxPhase,
  SandboxWatchEvent,
  ShutdownInput,
  ShutdownOutput,
  WatchInput,
} from '../../machines/sandbox.types.js';

/** A snapshot of the sandbox machine. */
export type SandboxSnapshot = SnapshotFrom<typeof sandboxMachine>;

/** The input every pure test uses unless it needs a dump path. */
export const INPUT: SandboxMachineInput = { sandboxId: 'sb-test' };

/** What a successful launch returns in these tests. */
export const LAUNCHED: LaunchOutput = { qemuPid: 4242, virtiofsdPid: 4343, runDir: '/run/vmactor/sb-test' };

/** A done event of the invoked actor `id`, as xstate delivers it. */
export function done(id: string, output?: unknown): SandboxMachineEvent {
  // xstate's internal actor events are not part of the user event union; the machine accepts them by type.
  return { type: `xstate.done.actor.${id}`, output, actorId: id } as unknown as SandboxMachineEvent;
}

/** An error event of the invoked actor `id`, as xstate delivers it. */
export function failed(id: string, error: unknown): SandboxMachineEvent {
  return { type: `xstate.error.actor.${id}`, error, actorId: id } as unknown as SandboxMachineEvent;
}

/** The answer to our own `stop`, as the provided `sendPause` sends it. */
export const VM_PAUSED: SandboxMachineEvent = { type: 'vm.paused' };
/** The answer to our own `cont`, as the provided `sendResume` sends it. */
export const VM_RESUMED: SandboxMachineEvent = { type: 'vm.resumed' };
/** Our own `stop` failed with `error`. */
export const pauseFailed = (error: unknown): SandboxMachineEvent => ({ type: 'vm.pause-failed', error });
/** Our own `cont` failed with `error`. */
export const resumeFailed = (error: unknown): SandboxMachineEvent => ({ type: 'vm.resume-failed', error });

/** The delayed event of `startTimeout` firing in `starting`. */
export const START_TIMEOUT = {
  type: 'xstate.after.startTimeout.sandbox.starting',
} as unknown as SandboxMachineEvent;

/** The result of stepping through events: final snapshot, what was emitted, and raw actions per step. */
export interface Stepped {
  readonly snapshot: SandboxSnapshot;
  readonly emitted: SandboxEmitted[];
  readonly actions: Array<{ type: string; params?: unknown }>;
}

/** Pull the emitted events out of executable actions. */
function emittedOf(actions: ReadonlyArray<{ type: string; params?: unknown }>): SandboxEmitted[] {
  const out: SandboxEmitted[] = [];
  for (const a of actions) {
    if (a.type === 'xstate.emit') out.push((a.params as { event: SandboxEmitted }).event);
  }
  return out;
}

/** Initial snapshot (pure). */
export function initial(input: SandboxMachineInput = INPUT): SandboxSnapshot {
  const [snapshot] = initialTransition(sandboxMachine, input);
  return snapshot;
}

/** Apply events with xstate's pure `transition()` and collect emitted events and actions. */
export function step(snapshot: SandboxSnapshot, ...events: SandboxMachineEvent[]): Stepped {
  const emitted: SandboxEmitted[] = [];
  const actions: Array<{ type: string; params?: unknown }> = [];
  let current = snapshot;
  for (const event of events) {
    const [next, acts] = transition(sandboxMachine, current, event);
    actions.push(...acts);
    emitted.push(...emittedOf(acts));
    current = next;
  }
  return { snapshot: current, emitted, actions };
}

/** A snapshot in `running` (launched) reached purely. */
export function running(input: SandboxMachineInput = INPUT): SandboxSnapshot {
  return step(initial(input), { type: 'START' }, done('launch', LAUNCHED)).snapshot;
}

/** A snapshot in `paused` reached by our own pause. */
export function paused(input: SandboxMachineInput = INPUT): SandboxSnapshot {
  return step(running(input), { type: 'PAUSE' }, VM_PAUSED).snapshot;
}

/** Only the lifecycle events. */
export function lifecycle(emitted: readonly SandboxEmitted[]): LifecycleEmitted[] {
  return emitted.filter((e): e is LifecycleEmitted => e.type === 'lifecycle');
}

/** `from→to` strings of the lifecycle events, for compact assertions. */
export function moves(emitted: readonly SandboxEmitted[]): string[] {
  return lifecycle(emitted).map((e) => `${e.from}→${e.to}${e.reason === undefined ? '' : `{${e.reason}}`}`);
}

/** How many times the action `type` is among `actions`. */
export function actionCount(actions: ReadonlyArray<{ type: string }>, type: string): number {
  return actions.filter((a) => a.type === type).length;
}

/** The spawnChild action for invoke `id`, with its input. */
export function spawned(
  actions: ReadonlyArray<{ type: string; params?: unknown }>,
  id: string,
): { id: string; src: string; input: unknown } | undefined {
  for (const a of actions) {
    if (a.type !== 'xstate.spawnChild') continue;
    const p = a.params as { id: string; src: string; input: unknown };
    if (p.id === id) return p;
  }
  return undefined;
}

/** The public phase recorded in context. */
export function phase(snapshot: SandboxSnapshot): SandboxPhase {
  return snapshot.context.phase;
}

/** A promise actor that never settles on its own, and reports whether its signal aborted. */
export function pending<TOutput, TInput>(onAbort?: () => void) {
  return fromPromise<TOutput, TInput>(
    ({ signal }) =>
      new Promise<TOutput>(() => {
        signal.addEventListener('abort', () => onAbort?.(), { once: true });
      }),
  );
}

/** A launch that succeeds at once with {@link LAUNCHED}. */
export function launchOk() {
  return fromPromise<LaunchOutput, LaunchInput>(async () => LAUNCHED);
}

/** A watch actor (fromEventObservable, as provided for real) that relays nothing, or what `onStart`'s `next` is given. */
export function idleWatch(onStart?: (next: (e: SandboxWatchEvent) => void) => void) {
  return fromEventObservable<SandboxWatchEvent, WatchInput>(
    () =>
      new Observable<SandboxWatchEvent>((subscriber) => {
        onStart?.((e) => subscriber.next(e));
      }),
  );
}

/** A shutdown/cleanup actor that resolves at once with `output`, recording its input. */
export function reaped<TInput>(record?: (input: TInput) => void, output?: ShutdownOutput) {
  return fromPromise<ShutdownOutput | undefined, TInput>(async ({ input }) => {
    record?.(input);
    return output;
  });
}

/** The machine's output with no exit, stderr, shutdown or panic recorded, plus `fields`. */
export function stopOutput(
  fields: Pick<SandboxOutput, 'stopReason' | 'stopError'> & Partial<SandboxOutput>,
): SandboxOutput {
  return { exit: null, stderrTail: null, shutdownBy: null, guestPanicked: false, ...fields };
}

/** A promise actor that resolves at once, recording its input. */
export function instant<TInput>(record?: (input: TInput) => void) {
  return fromPromise<void, TInput>(async ({ input }) => {
    record?.(input);
  });
}

/** The sandbox machine with inert stubs for every effect (nothing settles unless a test says so). */
export function stubbedMachine() {
  return sandboxMachine.provide({
    // Our stop/cont are written and never answered: a test sends `vm.paused` etc. itself.
    actions: { sendPause: () => {}, sendResume: () => {} },
    actors: {
      launch: pending<LaunchOutput, LaunchInput>(),
      watch: idleWatch(),
      runOperation: pending<unknown, RunOperationInput>(),
      dumpGuestMemory: pending<void, DumpGuestMemoryInput>(),
      shutdown: pending<ShutdownOutput | undefined, ShutdownInput>(),
      cleanup: pending<ShutdownOutput | undefined, CleanupInput>(),
    },
  });
}

/** An actor with every emitted event recorded. */
export function recordedActor(machine: typeof sandboxMachine, input: SandboxMachineInput = INPUT) {
  const actor = createActor(machine, { input });
  const emitted: SandboxEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  return { actor, emitted };
}
