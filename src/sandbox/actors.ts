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
  VmCommandInput,
  WatchInput,
} from '../../machines/sandbox.types.js';
import type { SandboxRuntime } from './runtime.js';
import { signallessPromise } from './signalless-promise.js';
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
  const { runtime: rt, operations } = effects;
  const attrs = (sandboxId: string) => ({ 'vmactor.sandbox.id': sandboxId });
  const vmCommand = { timeoutMs: effects.qmpCommandTimeoutMs } as const;
  const qmp = () => {
    if (!rt.qmp) throw new Error('QMP is not connected');
    return rt.qmp;
  };
  return sandboxMachine.provide({
    actors: {
      launch: fromPromise<LaunchOutput, LaunchInput>(({ input, signal }) =>
        withSpan('sandbox.launch', attrs(input.sandboxId), () => rt.launch(signal)),
      ),
      watch: fromEventObservable<SandboxWatchEvent, WatchInput>(() => rt.watch$()),
      // No abort signal for stop/cont: the QMP event often settles the state before the reply, and
      // the command must still complete (and its reply be consumed) after this actor is gone.
      // No span here: `sb.pause()`/`sb.resume()` record the operation's one span around this.
      // signallessPromise: no AbortController per call (a pause's hottest cost in the machine).
      pauseVm: signallessPromise<void, VmCommandInput>(async () => {
        await qmp().execute('stop', undefined, vmCommand);
      }),
      resumeVm: signallessPromise<void, VmCommandInput>(async () => {
        await qmp().execute('cont', undefined, vmCommand);
      }),
      runOperation: fromPromise<unknown, RunOperationInput>(async ({ input, signal }) =>
        withSpan(`sandbox.operation.${input.op.kind}`, attrs(input.sandboxId), async () => {
          if (!operations)
            throw new Error(`No operation provider for \`${input.op.kind}\` (pass \`operations\`)`);
          try {
            return await operations.run(input, { qmp: qmp(), signal, logger: rt.logger, plan: rt.opts.plan });
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
          rt.logger.warn({ file }, 'guest panicked: dumping guest memory');
          await qmp().execute(
            'dump-guest-memory',
            { paging: input.paging, protocol: `file:${file}` },
            { signal, timeoutMs: DUMP_TIMEOUT_MS },
          );
        }),
      ),
      shutdown: fromPromise<ShutdownOutput | undefined, ShutdownInput>(({ input }) =>
        withSpan('sandbox.shutdown', { ...attrs(input.sandboxId), 'vmactor.stop.reason': input.reason }, () =>
          rt.shutdown(input),
        ),
      ),
      cleanup: fromPromise<ShutdownOutput | undefined, CleanupInput>(({ input }) =>
        withSpan('sandbox.cleanup', attrs(input.sandboxId), () => rt.cleanup()),
      ),
    },
    guards: {
      hasCapacity: (_args, params: HasCapacityParams) => operations?.hasCapacity?.(params) ?? true,
    },
  });
}

/** The machine {@link provideSandboxMachine} returns. */
export type ProvidedSandboxMachine = ReturnType<typeof provideSandboxMachine>;
