// The factory machine on its own (no QEMU): refill bounded by concurrency, hand-out order, misses, failures, close.
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise } from 'xstate';
import { factoryMachine } from '../../machines/factory.machine.js';
import type { FactoryEmitted, FactoryEvent, StartVmInput } from '../../machines/factory.types.js';

/** A factory whose startVm actors are recorded; the test reports their outcome by sending events. */
function harness(input: { cacheSize: number; concurrency?: number; maxFailures?: number }) {
  const started: string[] = [];
  let drained = 0;
  const machine = factoryMachine.provide({
    actors: {
      startVm: fromCallback<FactoryEvent, StartVmInput>(({ input: i }) => {
        started.push(i.key);
      }),
      drain: fromPromise<void, void>(async () => {
        drained += 1;
      }),
    },
  });
  const actor = createActor(machine, { input });
  const emitted: FactoryEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  const ready = (key: string, pid = 100) =>
    actor.send({ type: 'VM_READY', vm: { key, pid, vcpus: 1, memoryMiB: 256 } });
  return { actor, started, emitted, ready, drained: () => drained };
}

describe('the factory machine', () => {
  it('starts at most `concurrency` VMs at once and refills as each becomes ready, up to cacheSize', () => {
    const h = harness({ cacheSize: 3, concurrency: 2 });
    expect(h.started).toEqual(['vm-0', 'vm-1']);
    h.ready('vm-0');
    expect(h.started).toEqual(['vm-0', 'vm-1', 'vm-2']);
    h.ready('vm-1');
    h.ready('vm-2');
    expect(h.started).toHaveLength(3);
    expect(h.actor.getSnapshot().context.cached.map((v) => v.key)).toEqual(['vm-0', 'vm-1', 'vm-2']);
  });

  it('hands out the oldest ready VM, refills behind it, and emits `miss` when the cache is empty', () => {
    const h = harness({ cacheSize: 1 });
    h.actor.send({ type: 'GET', requestId: 'r1' });
    expect(h.emitted).toContainEqual({ type: 'miss', requestId: 'r1' });
    h.ready('vm-0');
    h.actor.send({ type: 'GET', requestId: 'r2' });
    expect(h.emitted).toContainEqual({
      type: 'handed-out',
      requestId: 'r2',
      vm: { key: 'vm-0', pid: 100, vcpus: 1, memoryMiB: 256 },
    });
    expect(h.started).toEqual(['vm-0', 'vm-1']);
  });

  it('stops refilling after maxFailures failures in a row, and drops a pooled VM that exited', () => {
    const h = harness({ cacheSize: 1, maxFailures: 2 });
    h.actor.send({ type: 'VM_FAILED', key: 'vm-0', error: new Error('boom') });
    h.actor.send({ type: 'VM_FAILED', key: 'vm-1', error: new Error('boom') });
    expect(h.started).toEqual(['vm-0', 'vm-1']);
    expect(h.emitted.filter((e) => e.type === 'start-failed')).toHaveLength(2);
    const g = harness({ cacheSize: 1 });
    g.ready('vm-0');
    g.actor.send({ type: 'VM_EXITED', key: 'vm-0' });
    expect(g.actor.getSnapshot().context.cached).toEqual([]);
    expect(g.started).toEqual(['vm-0', 'vm-1']);
  });

  it('CLOSE drains and ends in `closed`; a GET while closing is refused', async () => {
    const h = harness({ cacheSize: 1 });
    h.actor.send({ type: 'CLOSE' });
    h.actor.send({ type: 'GET', requestId: 'late' });
    expect(h.emitted).toContainEqual({ type: 'refused', requestId: 'late' });
    await new Promise<void>((resolve) => h.actor.subscribe({ complete: resolve }));
    expect(h.actor.getSnapshot().value).toBe('closed');
    expect(h.drained()).toBe(1);
  });
});
