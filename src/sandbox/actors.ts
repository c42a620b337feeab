// The sandbox machine with real effects: each named actor bound to a SandboxRuntime.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fromCallback, fromPromise } from 'xstate';
import { sandboxMachine } from '../../machines/sandbox.machine.js';
import type {
  CleanupInput,
  DumpGuestMemoryInput,
  HasCapacityParams,
  LaunchInput,
  LaunchOutput,
  RunOperationInput,
  SandboxEvent,
  ShutdownInput,
  VmCommandInput,
  WatchInput,
} from '../../machines/sandbox.types.js';
import type { SandboxRuntime } from './runtime.js';
import type { OperationProvider } from './spec.js';
import { withSpan } from './tracing.js';

/** Deadline of our own QMP `stop`/`cont`. */
const VM_COMMAND_TIMEOUT_MS = 10_000;
/** Deadline of `dump-guest-memory` (a guest of a few GiB under TCG). */
const DUMP_TIMEOUT_MS = 120_000;

function requireQmp(rt: SandboxRuntime) {
  if (!rt.qmp) throw new Error('QMP is not connected');
  return rt.qmp;
}

/** The dump file for a panic: `<dir>/<sandboxId>/vmcore-<time>.elf` (Kata's layout). */
export function dumpFilePath(dir: string, sandboxId: string, at: Date = new Date()): string {
  return join(dir, sandboxId, `vmcore-${at.toISOString().replaceAll(':', '-')}.elf`);
}

/** `sandboxMachine` with every named actor provided by `rt`. */
export function provideSandboxMachine(rt: SandboxRuntime, operations?: OperationProvider) {
  const attrs = (sandboxId: string) => ({ 'vmactor.sandbox.id': sandboxId });
  return sandboxMachine.provide({
    actors: {
      launch: fromPromise<LaunchOutput, LaunchInput>(({ input, signal }) =>
        withSpan('sandbox.launch', attrs(input.sandboxId), () => rt.launch(signal)),
      ),
      watch: fromCallback<SandboxEvent, WatchInput>(({ sendBack }) => {
        let detach: (() => void) | undefined;
        let stopped = false;
        // Attach after the invoke completes so queued events are delivered to the settled state.
        queueMicrotask(() => {
          if (!stopped) detach = rt.watch.attach((e) => sendBack(e));
        });
        return () => {
          stopped = true;
          detach?.();
        };
      }),
      // No abort signal for stop/cont: the QMP event often settles the state before the reply, and
      // the command must still complete (and its reply be consumed) after this actor is gone.
      pauseVm: fromPromise<void, VmCommandInput>(async ({ input }) =>
        withSpan('sandbox.pause', attrs(input.sandboxId), async () => {
          await requireQmp(rt).execute('stop', undefined, { timeoutMs: VM_COMMAND_TIMEOUT_MS });
        }),
      ),
      resumeVm: fromPromise<void, VmCommandInput>(async ({ input }) =>
        withSpan('sandbox.resume', attrs(input.sandboxId), async () => {
          await requireQmp(rt).execute('cont', undefined, { timeoutMs: VM_COMMAND_TIMEOUT_MS });
        }),
      ),
      runOperation: fromPromise<unknown, RunOperationInput>(async ({ input, signal }) =>
        withSpan(`sandbox.operation.${input.op.kind}`, attrs(input.sandboxId), async () => {
          if (!operations)
            throw new Error(`No operation provider for \`${input.op.kind}\` (pass \`operations\`)`);
          return operations.run(input, {
            qmp: requireQmp(rt),
            signal,
            logger: rt.logger,
            plan: rt.opts.plan,
          });
        }),
      ),
      dumpGuestMemory: fromPromise<void, DumpGuestMemoryInput>(async ({ input, signal }) =>
        withSpan('sandbox.dumpGuestMemory', attrs(input.sandboxId), async () => {
          const file = dumpFilePath(input.path, input.sandboxId);
          await mkdir(join(input.path, input.sandboxId), { recursive: true, mode: 0o700 });
          rt.logger.warn({ file }, 'guest panicked: dumping guest memory');
          await requireQmp(rt).execute(
            'dump-guest-memory',
            { paging: input.paging, protocol: `file:${file}` },
            { signal, timeoutMs: DUMP_TIMEOUT_MS },
          );
        }),
      ),
      shutdown: fromPromise<void, ShutdownInput>(({ input }) =>
        withSpan('sandbox.shutdown', { ...attrs(input.sandboxId), 'vmactor.stop.reason': input.reason }, () =>
          rt.shutdown(input),
        ),
      ),
      cleanup: fromPromise<void, CleanupInput>(({ input }) =>
        withSpan('sandbox.cleanup', attrs(input.sandboxId), () => rt.cleanup()),
      ),
    },
    guards: {
      hasCapacity: (_args, params: HasCapacityParams) => operations?.hasCapacity?.(params) ?? true,
    },
  });
}
