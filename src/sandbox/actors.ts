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
const VM_COMMAND_OPTIONS = { timeoutMs: VM_COMMAND_TIMEOUT_MS } as const;
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

/** The runtime of each sandbox actor system (one root actor per sandbox). */
const runtimes = new WeakMap<object, SandboxRuntime>();

/** Binds a sandbox's runtime to its actor's system (before the actor starts). */
export function bindRuntime(system: object, rt: SandboxRuntime): void {
  runtimes.set(system, rt);
}

function runtimeOf(system: object): SandboxRuntime {
  const rt = runtimes.get(system);
  if (!rt) throw new Error('sandbox actor system has no runtime bound');
  return rt;
}

/** The provided machine, built once per operation provider (providing clones the machine). */
const provided = new WeakMap<OperationProvider, ReturnType<typeof provideSandboxMachine>>();
let plain: ReturnType<typeof provideSandboxMachine> | undefined;

/** `sandboxMachine` with the real effects for `operations` (cached); bind each actor's runtime with {@link bindRuntime}. */
export function sandboxMachineFor(operations?: OperationProvider): ReturnType<typeof provideSandboxMachine> {
  if (!operations) {
    plain ??= provideSandboxMachine(undefined);
    return plain;
  }
  let m = provided.get(operations);
  if (!m) {
    m = provideSandboxMachine(operations);
    provided.set(operations, m);
  }
  return m;
}

/** `sandboxMachine` with every named actor provided; each effect finds its runtime through its actor system. */
function provideSandboxMachine(operations: OperationProvider | undefined) {
  const attrs = (sandboxId: string) => ({ 'vmactor.sandbox.id': sandboxId });
  return sandboxMachine.provide({
    actors: {
      launch: fromPromise<LaunchOutput, LaunchInput>(({ input, signal, system }) =>
        withSpan('sandbox.launch', attrs(input.sandboxId), () => runtimeOf(system).launch(signal)),
      ),
      watch: fromCallback<SandboxEvent, WatchInput>(({ sendBack, system }) => {
        const rt = runtimeOf(system);
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
      // No span here: `sb.pause()`/`sb.resume()` record the operation's one span around this.
      pauseVm: fromPromise<void, VmCommandInput>(async ({ system }) => {
        await requireQmp(runtimeOf(system)).execute('stop', undefined, VM_COMMAND_OPTIONS);
      }),
      resumeVm: fromPromise<void, VmCommandInput>(async ({ system }) => {
        await requireQmp(runtimeOf(system)).execute('cont', undefined, VM_COMMAND_OPTIONS);
      }),
      runOperation: fromPromise<unknown, RunOperationInput>(async ({ input, signal, system }) =>
        withSpan(`sandbox.operation.${input.op.kind}`, attrs(input.sandboxId), async () => {
          const rt = runtimeOf(system);
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
      dumpGuestMemory: fromPromise<void, DumpGuestMemoryInput>(async ({ input, signal, system }) =>
        withSpan('sandbox.dumpGuestMemory', attrs(input.sandboxId), async () => {
          const rt = runtimeOf(system);
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
      shutdown: fromPromise<void, ShutdownInput>(({ input, system }) =>
        withSpan('sandbox.shutdown', { ...attrs(input.sandboxId), 'vmactor.stop.reason': input.reason }, () =>
          runtimeOf(system).shutdown(input),
        ),
      ),
      cleanup: fromPromise<void, CleanupInput>(({ input, system }) =>
        withSpan('sandbox.cleanup', attrs(input.sandboxId), () => runtimeOf(system).cleanup()),
      ),
    },
    guards: {
      hasCapacity: (_args, params: HasCapacityParams) => operations?.hasCapacity?.(params) ?? true,
    },
  });
}
