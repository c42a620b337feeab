// The sandbox machine with real effects: provided per sandbox, each named actor a closure over its runtime.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fromEventObservable, fromPromise } from 'xstate';
import { sandboxMachine } from '../../machines/sandbox.machine.js';
import type {
  CleanupInput,
  DumpGuestMemoryInput,
  HasCapacityParams,
  LaunchInput,
  LaunchOutput,
  RolledBackError,
  RunOperationInput,
  SandboxWatchEvent,
  ShutdownInput,
  ShutdownOutput,
  VmCommandAnsweredEvent,
  VmCommandFailedEvent,
  WatchInput,
} from '../../machines/sandbox.types.js';
import type { SandboxRuntime } from './runtime.js';
import type { OperationProvider } from './spec.js';
import { withSpan } from './tracing.js';

/** Deadline of `dump-guest-memory` (a guest of a few GiB under TCG). */
const DUMP_TIMEOUT_MS = 120_000;

/** The dump file for a panic: `<dir>/<sandboxId>/vmcore-<time>.elf` (Kata's layout). */
export function dumpFilePath(dir: string, sandboxId: string, at: Date = new Date()): string {
  return join(dir, sandboxId, `vmcore-${at.toISOString().replaceAll(':', '-')}.elf`);
}

/** What one sandbox's effects close over. */
export interface SandboxEffects {
  readonly runtime: SandboxRuntime;
  /** Implements the modifying operations; without it they fail. */
  readonly operations?: OperationProvider | undefined;
  /** Deadline of our own QMP `stop`/`cont`, ms. */
  readonly qmpCommandTimeoutMs: number;
}

/** A provider's plain-data rejection `{ rolledBack: true, error }` (machines' `RolledBackError`). */
function toldRolledBack(err: unknown): RolledBackError | undefined {
  return typeof err === 'object' && err !== null && (err as { rolledBack?: unknown }).rolledBack === true
    ? (err as RolledBackError)
    : undefined;
}

/**
 * Whether a rejection of `operations.run` undid every earlier step: the provider says so by the
 * error's class (`rolledBack(err)`), or rejects with the plain-data `{ rolledBack: true, error }`.
 */
export function rolledBackBy(operations: OperationProvider | undefined, err: unknown): boolean {
  if (toldRolledBack(err)) return true;
  return operations?.rolledBack?.(err) ?? false;
}

/** The failure itself: a `{ rolledBack: true, error }`'s `error`, else the rejection. */
function failureOf(err: unknown): unknown {
  const told = toldRolledBack(err);
  return told?.error === undefined ? err : told.error;
}

/** Per sandbox: the token of the `stop`/`cont` whose answer the machine still waits for. */
const vmCommandInFlight = new WeakMap<SandboxEffects, object>();

/**
 * Writes our own `stop`/`cont` and sends its answer to the machine, unless the state that sent it
 * was left first (`endVmCommand`): QMP's `STOP`/`RESUME` event often settles the state before the
 * reply, and the reply is then still read and dropped. No abort signal: the command must complete.
 */
function sendVmCommand(
  effects: SandboxEffects,
  command: 'stop' | 'cont',
  send: (e: VmCommandAnsweredEvent | VmCommandFailedEvent) => void,
  events: { answered: VmCommandAnsweredEvent['type']; failed: VmCommandFailedEvent['type'] },
): void {
  const token = {};
  vmCommandInFlight.set(effects, token);
  const current = (): boolean => vmCommandInFlight.get(effects) === token;
  let reply: Promise<unknown>;
  try {
    const qmp = effects.runtime.qmp;
    if (!qmp) throw new Error('QMP is not connected');
    reply = qmp.execute(command, undefined, { timeoutMs: effects.qmpCommandTimeoutMs });
  } catch (err) {
    reply = Promise.reject(err);
  }
  reply.then(
    () => {
      if (current()) send({ type: events.answered });
    },
    (error: unknown) => {
      if (current()) send({ type: events.failed, error });
    },
  );
}

/**
 * `sandboxMachine` with every named actor provided for ONE sandbox: each effect is a closure over
 * `effects.runtime` (xstate's `machine.provide({ actors })`); outside events (QMP events, process
 * exits, QMP disconnect) enter through `fromEventObservable` over `runtime.watch$()`.
 *
 * @example
 * ```ts
 * const actor = createActor(provideSandboxMachine({ runtime, qmpCommandTimeoutMs: 10_000 }), {
 *   input: { sandboxId: 'sb1' },
 * });
 * actor.start();
 * actor.send({ type: 'START' });
 * ```
 */
export function provideSandboxMachine(effects: SandboxEffects) {
  return provideWith(() => effects);
}

/** The machine with every effect resolved per call from the invoking sandbox's id. */
function provideWith(effectsOf: (sandboxId: string) => SandboxEffects) {
  const attrs = (sandboxId: string) => ({ 'vmactor.sandbox.id': sandboxId });
  const runtimeOf = (sandboxId: string): SandboxRuntime => effectsOf(sandboxId).runtime;
  const qmpOf = (sandboxId: string) => {
    const qmp = runtimeOf(sandboxId).qmp;
    if (!qmp) throw new Error('QMP is not connected');
    return qmp;
  };
  return sandboxMachine.provide({
    actions: {
      // No span here: `sb.pause()`/`sb.resume()` record the operation's one span around this.
      sendPause: ({ context, self }) =>
        sendVmCommand(effectsOf(context.sandboxId), 'stop', (e) => self.send(e), {
          answered: 'vm.paused',
          failed: 'vm.pause-failed',
        }),
      sendResume: ({ context, self }) =>
        sendVmCommand(effectsOf(context.sandboxId), 'cont', (e) => self.send(e), {
          answered: 'vm.resumed',
          failed: 'vm.resume-failed',
        }),
      endVmCommand: ({ context }) => {
        vmCommandInFlight.delete(effectsOf(context.sandboxId));
      },
    },
    actors: {
      launch: fromPromise<LaunchOutput, LaunchInput>(({ input, signal }) =>
        withSpan('sandbox.launch', attrs(input.sandboxId), () => runtimeOf(input.sandboxId).launch(signal)),
      ),
      watch: fromEventObservable<SandboxWatchEvent, WatchInput>(({ input }) =>
        runtimeOf(input.sandboxId).watch$(),
      ),
      runOperation: fromPromise<unknown, RunOperationInput>(async ({ input, signal }) =>
        withSpan(`sandbox.operation.${input.op.kind}`, attrs(input.sandboxId), async () => {
          const { runtime: rt, operations } = effectsOf(input.sandboxId);
          if (!operations)
            throw new Error(`No operation provider for \`${input.op.kind}\` (pass \`operations\`)`);
          try {
            return await operations.run(input, {
              qmp: qmpOf(input.sandboxId),
              signal,
              logger: rt.logger,
              plan: rt.opts.plan,
              emit: (e) => rt.events.next(e),
            });
          } catch (err) {
            if (rolledBackBy(operations, err)) input.reportRolledBack();
            throw failureOf(err);
          }
        }),
      ),
      dumpGuestMemory: fromPromise<void, DumpGuestMemoryInput>(async ({ input, signal }) =>
        withSpan('sandbox.dumpGuestMemory', attrs(input.sandboxId), async () => {
          const file = dumpFilePath(input.path, input.sandboxId);
          await mkdir(join(input.path, input.sandboxId), { recursive: true, mode: 0o700 });
          runtimeOf(input.sandboxId).logger.warn({ file }, 'guest panicked: dumping guest memory');
          await qmpOf(input.sandboxId).execute(
            'dump-guest-memory',
            { paging: input.paging, protocol: `file:${file}` },
            { signal, timeoutMs: DUMP_TIMEOUT_MS },
          );
        }),
      ),
      shutdown: fromPromise<ShutdownOutput | undefined, ShutdownInput>(({ input }) =>
        withSpan('sandbox.shutdown', { ...attrs(input.sandboxId), 'vmactor.stop.reason': input.reason }, () =>
          runtimeOf(input.sandboxId).shutdown(input),
        ),
      ),
      cleanup: fromPromise<ShutdownOutput | undefined, CleanupInput>(({ input }) =>
        withSpan('sandbox.cleanup', attrs(input.sandboxId), () => runtimeOf(input.sandboxId).cleanup()),
      ),
    },
    guards: {
      hasCapacity: ({ context }, params: HasCapacityParams) =>
        effectsOf(context.sandboxId).operations?.hasCapacity?.(params) ?? true,
    },
  });
}

/** The machine {@link provideSandboxMachine} returns. */
export type ProvidedSandboxMachine = ReturnType<typeof provideSandboxMachine>;

/** Live sandboxes on the shared machine, by id (weakly: an abandoned sandbox is still collected). */
const sharedEffects = new Map<string, WeakRef<SandboxEffects>>();
let sharedMachine: ProvidedSandboxMachine | undefined;

function sharedEffectsOf(sandboxId: string): SandboxEffects {
  const effects = sharedEffects.get(sandboxId)?.deref();
  if (!effects) throw new Error(`sandbox \`${sandboxId}\` has no effects (it was released)`);
  return effects;
}

/**
 * The machine for one sandbox without a `provide()` per sandbox (xstate rebuilds every state node
 * there: ~1.6 ms of synchronous work at each start): one machine per process whose effects are
 * looked up by the sandbox id every actor input carries. An id already live in this process (a
 * second run base) gets a machine of its own. The caller keeps `effects` alive and calls
 * `release()` once the actor has ended.
 *
 * @example
 * ```ts
 * const { machine, release } = sandboxMachineFor('sb1', { runtime, qmpCommandTimeoutMs: 10_000 });
 * ```
 */
export function sandboxMachineFor(
  sandboxId: string,
  effects: SandboxEffects,
): { readonly machine: ProvidedSandboxMachine; readonly release: () => void } {
  if (sharedEffects.get(sandboxId)?.deref())
    return { machine: provideSandboxMachine(effects), release: () => {} };
  const ref = new WeakRef(effects);
  sharedEffects.set(sandboxId, ref);
  sharedMachine ??= provideWith(sharedEffectsOf);
  return {
    machine: sharedMachine,
    release: () => {
      if (sharedEffects.get(sandboxId) === ref) sharedEffects.delete(sandboxId);
    },
  };
}
