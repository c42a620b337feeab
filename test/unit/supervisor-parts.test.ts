// The supervisor's pure parts: the admission rule, the machine's states, the event log's replay, the start gate.
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import { admissionRefusal, type SupervisorEmitted } from '../../machines/supervisor.types.js';
import { EventLog } from '../../src/supervisor/event-log.js';
import { StartGate } from '../../src/supervisor/start-gate.js';

const limits = { maxSandboxes: 2, memoryBudgetMiB: 1024 };

describe('admission', () => {
  it('admits under both limits and names the limit a refusal breaks', () => {
    const sandboxes = { a: { memoryMiB: 512, live: true } };
    expect(admissionRefusal({ limits, sandboxes }, 'b', 512)).toBeUndefined();
    expect(admissionRefusal({ limits, sandboxes }, 'b', 513)?.reason).toBe('memory-budget');
    expect(admissionRefusal({ limits, sandboxes }, 'b', 513)?.message).toMatch(
      /513 MiB.*512 MiB of the 1024 MiB/,
    );
    expect(admissionRefusal({ limits, sandboxes }, 'a', 1)?.reason).toBe('duplicate-id');
    const full = { ...sandboxes, b: { memoryMiB: 1, live: true } };
    expect(admissionRefusal({ limits, sandboxes: full }, 'c', 1)?.reason).toBe('max-sandboxes');
  });

  it('does not count stopped sandboxes against the limits', () => {
    const sandboxes = { a: { memoryMiB: 1024, live: false }, b: { memoryMiB: 1, live: false } };
    expect(admissionRefusal({ limits, sandboxes }, 'c', 1024)).toBeUndefined();
  });
});

describe('the supervisor machine', () => {
  function run(recover: () => Promise<void> = async () => undefined) {
    const drained: boolean[] = [];
    const machine = supervisorMachine.provide({
      actors: {
        recover: fromPromise(recover),
        drain: fromPromise<void, { stopSandboxes: boolean }>(async ({ input }) => {
          drained.push(input.stopSandboxes);
        }),
      },
    });
    const actor = createActor(machine, { input: { limits } });
    const emitted: SupervisorEmitted[] = [];
    actor.on('*', (e) => emitted.push(e));
    actor.start();
    return { actor, emitted, drained };
  }

  it('recovers first, refuses admission while recovering, then serves', async () => {
    let finish = () => {};
    const { actor, emitted } = run(() => new Promise<void>((r) => (finish = r)));
    expect(actor.getSnapshot().value).toBe('recovering');
    actor.send({ type: 'ADMIT', id: 'a', memoryMiB: 1 });
    expect(emitted.at(-1)).toMatchObject({ type: 'refused', refusal: { reason: 'not-serving' } });
    actor.send({ type: 'ADOPT', id: 'old', memoryMiB: 512 });
    finish();
    await new Promise<void>((r) => actor.subscribe((s) => s.value === 'serving' && r()));
    actor.send({ type: 'ADMIT', id: 'a', memoryMiB: 600 });
    expect(emitted.at(-1)).toMatchObject({ type: 'refused', refusal: { reason: 'memory-budget' } });
    actor.send({ type: 'ADMIT', id: 'a', memoryMiB: 512 });
    expect(emitted.at(-1)).toEqual({ type: 'admitted', id: 'a', memoryMiB: 512 });
    expect(Object.keys(actor.getSnapshot().context.sandboxes)).toEqual(['old', 'a']);
  });

  it('keeps serving when recovery fails, with the error in its context', async () => {
    const { actor } = run(async () => {
      throw new Error('state.json unreadable');
    });
    await new Promise<void>((r) => actor.subscribe((s) => s.value === 'serving' && r()));
    expect(String(actor.getSnapshot().context.recoveryError)).toMatch(/unreadable/);
  });

  it('drains on SHUTDOWN with the stop choice, then ends', async () => {
    const { actor, drained } = run();
    await new Promise<void>((r) => actor.subscribe((s) => s.value === 'serving' && r()));
    const done = new Promise<void>((r) => actor.subscribe({ complete: () => r() }));
    actor.send({ type: 'SHUTDOWN', stopSandboxes: true });
    await done;
    expect(drained).toEqual([true]);
    expect(actor.getSnapshot().value).toBe('closed');
  });

  it('frees a stopped sandbox from the limits and forgets a removed one', async () => {
    const { actor, emitted } = run();
    await new Promise<void>((r) => actor.subscribe((s) => s.value === 'serving' && r()));
    actor.send({ type: 'ADMIT', id: 'a', memoryMiB: 1024 });
    actor.send({ type: 'STOPPED', id: 'a' });
    actor.send({ type: 'ADMIT', id: 'b', memoryMiB: 1024 });
    expect(emitted.at(-1)).toMatchObject({ type: 'admitted', id: 'b' });
    actor.send({ type: 'FORGET', id: 'a' });
    expect(emitted.at(-1)).toEqual({ type: 'forgotten', id: 'a' });
    expect(Object.keys(actor.getSnapshot().context.sandboxes)).toEqual(['b']);
  });
});

describe('the event log', () => {
  it('numbers events from 1 without gaps and replays those after a sequence number', () => {
    const log = new EventLog<string>(3);
    const seen: number[] = [];
    log.events$.subscribe((e) => seen.push(e.seq));
    for (const e of ['a', 'b', 'c', 'd', 'e']) log.append(e);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(log.since(3)).toEqual({
      events: [
        { seq: 4, event: 'd' },
        { seq: 5, event: 'e' },
      ],
      gap: false,
    });
    expect(log.since(5)).toEqual({ events: [], gap: false });
  });

  it('says so when the events asked for fell out of the bounded buffer', () => {
    const log = new EventLog<number>(2);
    for (let i = 0; i < 5; i++) log.append(i);
    const r = log.since(1);
    expect(r.gap).toBe(true);
    expect(r.events.map((e) => e.seq)).toEqual([4, 5]);
  });
});

describe('the start gate', () => {
  it('runs at most `limit` at once and the rest in order', async () => {
    const gate = new StartGate(2);
    const order: string[] = [];
    const releases: Array<() => void> = [];
    const job = (name: string) =>
      gate.run(
        () =>
          new Promise<void>((r) => {
            order.push(name);
            releases.push(r);
          }),
      );
    const all = Promise.all([job('a'), job('b'), job('c'), job('d')]);
    await Promise.resolve();
    expect(order).toEqual(['a', 'b']);
    expect(gate.queued).toBe(2);
    releases.shift()?.();
    await new Promise<void>((r) => setImmediate(r));
    expect(order).toEqual(['a', 'b', 'c']);
    for (;;) {
      const r = releases.shift();
      if (!r) break;
      r();
      await new Promise<void>((res) => setImmediate(res));
    }
    await all;
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expect(gate.active).toBe(0);
  });
});
