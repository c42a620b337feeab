// The inspector's pure parts: sanitizing context, active state paths, the recorder's batching, numbering and bounded replay.
import { Socket } from 'node:net';
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import { activePaths } from '../../src/inspect/protocol.js';
import { InspectRecorder } from '../../src/inspect/recorder.js';
import { sanitize } from '../../src/inspect/sanitize.js';
import { watchActor } from '../../src/inspect/sources.js';

describe('sanitize', () => {
  it('replaces handles by their class name, errors by name/code/message, and drops functions', () => {
    const socket = new Socket();
    const err = Object.assign(new Error('boom'), { code: 'ERR_X' });
    expect(sanitize({ socket, err, fn: () => 1, n: 1, ok: true, nil: null })).toEqual({
      socket: '[Socket]',
      err: { name: 'Error', code: 'ERR_X', message: 'boom' },
      n: 1,
      ok: true,
      nil: null,
    });
    socket.destroy();
  });

  it('cuts long strings, long lists, deep nesting and cycles', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const deep = { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } };
    const out = sanitize({
      s: 'x'.repeat(1000),
      list: Array.from({ length: 100 }, (_, i) => i),
      deep,
      cyclic,
    });
    const o = out as Record<string, unknown>;
    expect(o.s).toBe(`${'x'.repeat(240)}…(+760)`);
    expect(o.list).toHaveLength(41);
    expect((o.list as unknown[])[40]).toBe('…(+60)');
    expect(JSON.stringify(o.deep)).toContain('[depth]');
    expect(o.cyclic).toEqual({ a: 1, self: '[circular]' });
  });
});

describe('activePaths', () => {
  it('lists every active state path of a parallel state value, parents first', () => {
    expect(activePaths({ active: { run: 'running', operation: 'idle' } })).toEqual([
      'active',
      'active.run',
      'active.run.running',
      'active.operation',
      'active.operation.idle',
    ]);
    expect(activePaths('stopped')).toEqual(['stopped']);
  });
});

const qmp = (e: { type: string }) => ({ kind: 'qmp' as const, summary: e.type });

describe('InspectRecorder', () => {
  it('converts nothing while the observer runs: steps are numbered and published in the next batch', async () => {
    const rec = new InspectRecorder();
    const got = firstValueFrom(rec.messages$.pipe(take(2), toArray()));
    rec.enqueue('a', 'sandbox', { t: 'actor' });
    rec.enqueue('a', 'sandbox', { t: 'event', event: { type: 'qmp.STOP' }, describe: qmp });
    expect(rec.lastSeq).toBe(0);
    const [m1, m2] = await got;
    expect([m1?.seq, m1?.type, m2?.seq, m2?.type]).toEqual([1, 'actor', 2, 'event']);
  });

  it('replays the latest snapshot and only the last replayPerActor timeline entries, in seq order', () => {
    const rec = new InspectRecorder({ replayPerActor: 3 });
    rec.enqueue('a', 'sandbox', { t: 'actor' });
    for (let i = 0; i < 5; i++) {
      rec.enqueue('a', 'sandbox', {
        t: 'snapshot',
        snapshot: { value: i % 2 ? 'paused' : 'running', status: 'active', context: { phase: 'x' } },
      });
      rec.enqueue('a', 'sandbox', {
        t: 'event',
        event: { type: 'E' },
        describe: () => ({ kind: 'command', summary: `e${i}` }),
      });
    }
    const replay = rec.replay();
    expect(replay.map((m) => m.type)).toEqual(['actor', 'event', 'event', 'snapshot', 'event']);
    expect(replay.filter((m) => m.type === 'event').map((m) => m.type === 'event' && m.summary)).toEqual([
      'e2',
      'e3',
      'e4',
    ]);
    const seqs = replay.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(rec.replay(seqs.at(-2))).toHaveLength(1);
  });

  it('drops and counts steps past maxPending instead of growing without bound', () => {
    const rec = new InspectRecorder({ maxPending: 2 });
    for (let i = 0; i < 5; i++) rec.enqueue('a', 'sandbox', { t: 'actor' });
    expect(rec.dropped).toBe(3);
    rec.flush();
    expect(rec.lastSeq).toBe(2);
  });
});

describe('watchActor over XState inspection', () => {
  it('records the actor, each changed snapshot with its active states, and the events it receives', () => {
    const actor = createActor(supervisorMachine, {
      input: { limits: { maxSandboxes: 2, memoryBudgetMiB: 1024 } },
    });
    const rec = new InspectRecorder();
    const detach = watchActor(rec, 'supervisor', 'supervisor', actor);
    actor.start();
    actor.send({ type: 'ADMIT', id: 'sb1', memoryMiB: 128 });
    detach();
    actor.send({ type: 'ADMIT', id: 'sb2', memoryMiB: 128 });
    rec.flush();
    const msgs = rec.replay();
    expect(msgs[0]).toMatchObject({ type: 'actor', actorId: 'supervisor', machine: 'supervisor' });
    const events = msgs.filter((m) => m.type === 'event').map((m) => m.type === 'event' && m.summary);
    expect(events).toContain('ADMIT');
    expect(events.filter((e) => e === 'ADMIT')).toHaveLength(1);
    const snap = rec.snapshots()[0];
    expect(snap?.states.length).toBeGreaterThan(0);
    expect(snap?.status).toBe('active');
    actor.stop();
  });
});
