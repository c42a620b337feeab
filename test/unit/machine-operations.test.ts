import { describe, expect, it } from 'vitest';
import { fromPromise, initialTransition, toPromise, transition, waitFor } from 'xstate';
import type { SandboxOperation } from '../../machines/operation.types.js';
import { sandboxMachine } from '../../machines/sandbox.machine.js';
import type {
  HasCapacityParams,
  OperationEmitted,
  RunOperationInput,
  SandboxEmitted,
  SandboxMachineEvent,
  SandboxWatchEvent,
  ShutdownInput,
} from '../../machines/sandbox.types.js';
import {
  done,
  failed,
  INPUT,
  idleWatch,
  initial,
  LAUNCHED,
  launchOk,
  paused,
  pending,
  reaped,
  recordedActor,
  running,
  spawned,
  step,
  stopOutput,
  stubbedMachine,
  VM_PAUSED,
} from './machine-fixtures.js';

const DISK: SandboxOperation = {
  kind: 'hotplug',
  device: { kind: 'block', id: 'disk1', file: '/tmp/disk1.img' },
};
const CPUS: SandboxOperation = { kind: 'resize-vcpus', count: 4 };
const MEM: SandboxOperation = { kind: 'resize-memory', mib: 2048 };

function op(id: string, operation: SandboxOperation): SandboxMachineEvent {
  return { type: 'OPERATION', id, op: operation };
}

/** `id:phase` strings of the operation events. */
function phases(emitted: readonly SandboxEmitted[]): string[] {
  return emitted
    .filter((e): e is OperationEmitted => e.type === 'operation')
    .map((e) => `${e.id}:${e.phase}`);
}

function operationError(emitted: readonly SandboxEmitted[], id: string, phase: string): unknown {
  return emitted.find(
    (e): e is OperationEmitted => e.type === 'operation' && e.id === id && e.phase === phase,
  )?.error;
}

describe('sandbox machine: operations (pure)', () => {
  it('an operation while running starts at once with requested emitted and runOperation invoked', () => {
    const r = step(running(), op('a', DISK));
    expect(phases(r.emitted)).toEqual(['a:requested']);
    expect(r.snapshot.value).toEqual({ active: { run: 'running', operation: 'busy' } });
    expect(r.snapshot.context.currentOperation).toEqual({
      id: 'a',
      op: DISK,
      applied: false,
      rolledBack: false,
    });
    const input = spawned(r.actions, 'runOperation')?.input as RunOperationInput;
    expect(input).toMatchObject({ sandboxId: 'sb-test', id: 'a', op: DISK, paused: false });
    expect(typeof input.reportApplied).toBe('function');
  });

  it('operations arriving while one runs are queued first in, first out', () => {
    const r = step(running(), op('a', DISK), op('b', CPUS), op('c', MEM));
    expect(r.snapshot.context.currentOperation?.id).toBe('a');
    expect(r.snapshot.context.operationQueue.map((q) => q.id)).toEqual(['b', 'c']);
    const afterA = step(r.snapshot, done('runOperation', { added: 1 }));
    expect(afterA.snapshot.context.currentOperation?.id).toBe('b');
    expect(spawned(afterA.actions, 'runOperation')?.input).toMatchObject({ id: 'b', op: CPUS });
    const afterB = step(afterA.snapshot, failed('runOperation', new Error('maxcpus')));
    expect(afterB.snapshot.context.currentOperation?.id).toBe('c');
    const afterC = step(afterB.snapshot, done('runOperation'));
    expect(afterC.snapshot.value).toEqual({ active: { run: 'running', operation: 'idle' } });
    expect(phases([...r.emitted, ...afterA.emitted, ...afterB.emitted, ...afterC.emitted])).toEqual([
      'a:requested',
      'b:requested',
      'c:requested',
      'a:applied',
      'a:confirmed',
      'b:failed',
      'c:applied',
      'c:confirmed',
    ]);
  });

  it('a confirmed operation carries the actor output as result', () => {
    const r = step(running(), op('a', CPUS), done('runOperation', { added: 2 }));
    const confirmed = r.emitted.find((e) => e.type === 'operation' && e.phase === 'confirmed');
    expect(confirmed).toMatchObject({ id: 'a', op: CPUS, result: { added: 2 } });
  });

  it('phase one reported by the actor emits applied once; confirmation does not repeat it', () => {
    const r = step(
      running(),
      op('a', DISK),
      { type: 'operation.applied', id: 'a' },
      { type: 'operation.applied', id: 'a' },
      done('runOperation'),
    );
    expect(phases(r.emitted)).toEqual(['a:requested', 'a:applied', 'a:confirmed']);
  });

  it('an applied report for another operation id is ignored', () => {
    const r = step(running(), op('a', DISK), { type: 'operation.applied', id: 'zzz' });
    expect(phases(r.emitted)).toEqual(['a:requested']);
    expect(r.snapshot.context.currentOperation?.applied).toBe(false);
  });

  it('a failure the operation reported as rolled back emits failed then rolled-back', () => {
    const error = new Error('device_add failed');
    const r = step(
      running(),
      op('a', DISK),
      { type: 'operation.applied', id: 'a' },
      { type: 'operation.rolled-back', id: 'a' },
      failed('runOperation', error),
    );
    expect(phases(r.emitted)).toEqual(['a:requested', 'a:applied', 'a:failed', 'a:rolled-back']);
    expect(operationError(r.emitted, 'a', 'failed')).toBe(error);
  });

  it('a failure not reported as rolled back emits failed only, whatever the error carries', () => {
    const error = Object.assign(new Error('device_add failed'), { rolledBack: true });
    const r = step(running(), op('a', DISK), failed('runOperation', error));
    expect(phases(r.emitted)).toEqual(['a:requested', 'a:failed']);
  });

  it('a rolled-back report for another operation id is ignored', () => {
    const r = step(
      running(),
      op('a', DISK),
      { type: 'operation.rolled-back', id: 'zzz' },
      failed('runOperation', 'x'),
    );
    expect(phases(r.emitted)).toEqual(['a:requested', 'a:failed']);
  });

  it('an operation id already queued or running is refused without disturbing the queue', () => {
    const r = step(running(), op('a', DISK), op('b', CPUS), op('a', MEM), op('b', MEM));
    expect(phases(r.emitted)).toEqual(['a:requested', 'b:requested', 'a:failed', 'b:failed']);
    expect(operationError(r.emitted, 'a', 'failed')).toMatchObject({ code: 'ERR_DUPLICATE_ID' });
    expect(r.snapshot.context.operationQueue.map((q) => q.id)).toEqual(['b']);
  });

  it('operations are refused in created, starting and stopping', () => {
    const states = [
      initial(),
      step(initial(), { type: 'START' }).snapshot,
      step(running(), { type: 'STOP' }).snapshot,
    ];
    for (const s of states) {
      const r = step(s, op('a', DISK));
      expect(phases(r.emitted)).toEqual(['a:failed']);
      expect(operationError(r.emitted, 'a', 'failed')).toMatchObject({ code: 'ERR_SANDBOX_NOT_ACTIVE' });
      expect(r.snapshot.value).toEqual(s.value);
    }
  });

  it('operations run while paused, and the actor is told the VM is paused', () => {
    const r = step(paused(), op('a', DISK));
    expect(r.snapshot.value).toEqual({ active: { run: 'paused', operation: 'busy' } });
    expect(spawned(r.actions, 'runOperation')?.input).toMatchObject({ paused: true });
  });

  it('pause and resume proceed while an operation runs', () => {
    const r = step(running(), op('a', DISK), { type: 'PAUSE' }, VM_PAUSED);
    expect(r.snapshot.value).toEqual({ active: { run: 'paused', operation: 'busy' } });
    expect(r.snapshot.children.runOperation).toBeDefined();
  });

  it('STOP pre-empts the running operation and fails it and every queued one with ERR_OPERATION_ABORTED', () => {
    const r = step(running(), op('a', DISK), op('b', CPUS), { type: 'STOP' });
    expect(r.snapshot.value).toEqual({ stopping: 'ladder' });
    expect(r.snapshot.children.runOperation).toBeUndefined();
    expect(phases(r.emitted)).toEqual(['a:requested', 'b:requested', 'a:failed', 'b:failed']);
    expect(operationError(r.emitted, 'a', 'failed')).toMatchObject({ code: 'ERR_OPERATION_ABORTED' });
    expect(r.snapshot.context.currentOperation).toBeNull();
    expect(r.snapshot.context.operationQueue).toEqual([]);
    // The operation events come before the lifecycle event of leaving running.
    expect(r.emitted.map((e) => e.type)).toEqual([
      'operation',
      'operation',
      'operation',
      'operation',
      'lifecycle',
    ]);
  });

  it('a crash during an operation also abandons it', () => {
    const r = step(running(), op('a', DISK), { type: 'qmp.disconnected' });
    expect(phases(r.emitted)).toEqual(['a:requested', 'a:failed']);
    expect(r.snapshot.context.stopReason).toBe('crashed');
  });
});

describe('sandbox machine: capacity guard', () => {
  const limited = sandboxMachine.provide({
    guards: {
      hasCapacity: (_args, params: HasCapacityParams) =>
        params.op.kind !== 'resize-vcpus' || params.op.count <= 8,
    },
  });

  it('an operation beyond capacity fails with ERR_NO_CAPACITY before anything is invoked', () => {
    const { actor, emitted } = recordedActor(
      limited.provide({
        actors: {
          launch: launchOk(),
          watch: idleWatch(),
          runOperation: pending<unknown, RunOperationInput>(),
        },
      }),
    );
    actor.start();
    actor.send({ type: 'START' });
    return waitFor(actor, (s) => s.context.phase === 'running').then(() => {
      actor.send(op('big', { kind: 'resize-vcpus', count: 64 }));
      expect(phases(emitted)).toEqual(['big:requested', 'big:failed']);
      expect(operationError(emitted, 'big', 'failed')).toMatchObject({ code: 'ERR_NO_CAPACITY' });
      expect(actor.getSnapshot().children.runOperation).toBeUndefined();
      actor.send(op('ok', { kind: 'resize-vcpus', count: 4 }));
      expect(actor.getSnapshot().context.currentOperation?.id).toBe('ok');
      actor.stop();
    });
  });

  it('the capacity guard sees each queued operation when it reaches the head of the queue', () => {
    const seen: string[] = [];
    const m = sandboxMachine.provide({
      guards: {
        hasCapacity: (_args, params: HasCapacityParams) => {
          seen.push(params.id);
          return params.id !== 'b';
        },
      },
    });
    let [snap] = initialTransition(m, INPUT);
    for (const e of [
      { type: 'START' },
      done('launch', LAUNCHED),
      op('a', DISK),
      op('b', MEM),
      op('c', CPUS),
    ]) {
      [snap] = transition(m, snap, e as SandboxMachineEvent);
    }
    expect(seen).toEqual(['a']);
    [snap] = transition(m, snap, done('runOperation'));
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(snap.context.currentOperation?.id).toBe('c');
  });
});

describe('sandbox machine: operations with a live actor and stub effects', () => {
  it("STOP aborts the running operation's signal and runs the shutdown ladder", async () => {
    let aborted = false;
    let shutdownInput: unknown;
    const m = sandboxMachine.provide({
      actors: {
        launch: launchOk(),
        watch: idleWatch(),
        runOperation: pending<unknown, RunOperationInput>(() => {
          aborted = true;
        }),
        shutdown: reaped<ShutdownInput>((input) => {
          shutdownInput = input;
        }),
      },
    });
    const { actor, emitted } = recordedActor(m);
    actor.start();
    actor.send({ type: 'START' });
    await waitFor(actor, (s) => s.context.phase === 'running');
    actor.send(op('a', DISK));
    actor.send(op('b', CPUS));
    actor.send({ type: 'STOP' });
    const output = await toPromise(actor);
    expect(aborted).toBe(true);
    expect(output).toEqual(stopOutput({ stopReason: 'requested', stopError: null }));
    expect(shutdownInput).toMatchObject({ reason: 'requested', waitOnly: false, qemuExited: false });
    expect(phases(emitted)).toEqual(['a:requested', 'b:requested', 'a:failed', 'b:failed']);
  });

  it('reportApplied from the operation actor reaches the machine as the applied phase', async () => {
    let release: (() => void) | undefined;
    const m = sandboxMachine.provide({
      actors: {
        launch: launchOk(),
        watch: idleWatch(),
        runOperation: fromPromise<unknown, RunOperationInput>(async ({ input }) => {
          input.reportApplied();
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          return { ok: input.id };
        }),
      },
    });
    const { actor, emitted } = recordedActor(m);
    actor.start();
    actor.send({ type: 'START' });
    await waitFor(actor, (s) => s.context.phase === 'running');
    actor.send(op('a', DISK));
    await waitFor(actor, (s) => s.context.currentOperation?.applied === true);
    expect(phases(emitted)).toEqual(['a:requested', 'a:applied']);
    release?.();
    await waitFor(actor, (s) => s.context.currentOperation === null);
    expect(phases(emitted)).toEqual(['a:requested', 'a:applied', 'a:confirmed']);
    actor.stop();
  });

  it('the watch actor forwards QMP and process events that drive the machine', async () => {
    let forward: ((e: SandboxWatchEvent) => void) | undefined;
    const m2 = stubbedMachine().provide({
      actors: {
        launch: launchOk(),
        watch: idleWatch((sendBack) => {
          forward = sendBack;
        }),
        shutdown: reaped<ShutdownInput>(),
      },
    });
    const { actor, emitted } = recordedActor(m2);
    actor.start();
    actor.send({ type: 'START' });
    await waitFor(actor, (s) => s.context.phase === 'running');
    forward?.({ type: 'qmp.STOP' });
    expect(actor.getSnapshot().context.phase).toBe('paused');
    forward?.({ type: 'qmp.SHUTDOWN', guest: true });
    const output = await toPromise(actor);
    expect(output.stopReason).toBe('guest-shutdown');
    expect(emitted.filter((e) => e.type === 'lifecycle').map((e) => `${e.from}→${e.to}`)).toEqual([
      'created→starting',
      'starting→running',
      'running→paused',
      'paused→stopping',
      'stopping→stopped',
    ]);
  });
});
