// 50 sandboxes created and started through the API at once: all run, the SSE stream carries every lifecycle
// event of each in order with no gap in the sequence, and a client resuming with Last-Event-ID gets the rest.

import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { freshId, tempRunBase } from './sandbox-fixtures.js';
import {
  http,
  readEvents,
  removeTempSockets,
  startDaemon,
  stopDaemons,
  tempSocket,
  type WireEvent,
} from './service-fixtures.js';

const base = tempRunBase();
afterAll(async () => {
  await stopDaemons();
  rmSync(base, { recursive: true, force: true });
  removeTempSockets();
});
guest('cloud');

type Ev = WireEvent;

const name = (e: Ev) => (e.type === 'lifecycle' ? String(e.to) : `${e.type}:${e.change}`);

describe('50 sandboxes through the API', () => {
  it('all reach running; the SSE stream has every lifecycle event in order without gaps; Last-Event-ID resumes', async () => {
    const socket = tempSocket();
    const d = await startDaemon(base, socket, ['--start-concurrency', '4', '--stop-on-exit']);
    const N = 50;
    const ids = Array.from({ length: N }, () => freshId('scale'));
    try {
      const live = readEvents(socket, '/events?since=0', 3 * N);
      const created = await Promise.all(
        ids.map((id) =>
          http(socket, 'POST', '/sandboxes', JSON.stringify({ id, hypervisor: { memorySize: 256 } })),
        ),
      );
      for (const r of created) expect(r.status).toBe(201);
      const started = await Promise.all(ids.map((id) => http(socket, 'POST', `/sandboxes/${id}/start`)));
      for (const r of started)
        expect(r.json().phase, `start answered ${r.status}: ${r.body}`).toBe('running');
      const seen = await live;
      expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i + 1));
      for (const id of ids) {
        expect(seen.filter((e) => e.sandboxId === id).map(name)).toEqual([
          'supervisor:added',
          'starting',
          'running',
        ]);
      }
      const list = (await http(socket, 'GET', '/sandboxes')).json<{ phase: string }[]>();
      expect(list.map((s) => s.phase)).toEqual(Array(N).fill('running'));

      const last = seen.at(-1)?.seq as number;
      const removed = await Promise.all(ids.map((id) => http(socket, 'DELETE', `/sandboxes/${id}`)));
      for (const r of removed) expect(r.status).toBe(200);
      const missed = await readEvents(socket, '/events', 3 * N, { 'last-event-id': String(last) });
      expect(missed.map((e) => e.seq)).toEqual(missed.map((_, i) => last + 1 + i));
      for (const id of ids) {
        expect(missed.filter((e) => e.sandboxId === id).map(name)).toEqual([
          'stopping',
          'stopped',
          'supervisor:removed',
        ]);
      }
    } finally {
      d.child.kill('SIGTERM');
      await d.exited;
    }
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  }, 300_000);
});
