// Templates through the service: a real daemon saves a template VM (default guest, TCG), lists it, boots a clone
// from it with the CLI verbs (--json parsed); bad template requests are refused by name with nothing created.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { freshId, tempRunBase } from './sandbox-fixtures.js';
import {
  cli,
  http,
  readEvents,
  removeTempSockets,
  startDaemon,
  stopDaemons,
  tempSocket,
} from './service-fixtures.js';

const base = tempRunBase();
const templates = mkdtempSync('/dev/shm/vmactor-test-svctpl-');
guest('cloud');
afterAll(async () => {
  await stopDaemons();
  rmSync(base, { recursive: true, force: true });
  rmSync(templates, { recursive: true, force: true });
  removeTempSockets();
});

interface Summary {
  id: string;
  phase: string;
  qemuPid: number | null;
  memoryMiB: number;
}

interface TemplateSummary {
  name: string;
  dir: string;
  memoryMiB: number;
  vcpus: number;
  stateBytes: number;
  memoryBytes: number;
  configHash: string;
  qemu: { version: string };
}

/** Reads `GET /events?since=0&sandbox=ID` until that sandbox's lifecycle reaches `running`. */
function eventsUntilRunning(socket: string, id: string): Promise<Record<string, unknown>[]> {
  return readEvents(socket, `/events?since=0&sandbox=${id}`, (got) =>
    got.some((e) => e.type === 'lifecycle' && e.to === 'running'),
  );
}

describe('templates through the service', () => {
  it('template save → template ls → create --template → the clone runs from the template; bad requests name the problem', async () => {
    const socket = tempSocket();
    const d = await startDaemon(base, socket, ['--template-dir', templates, '--stop-on-exit']);
    const s = ['--socket', socket, '--json'];
    const json = async <T>(args: string[]): Promise<T> => {
      const r = await cli([...args, ...s]);
      expect(r.err, `vmactor ${args.join(' ')}`).toBe('');
      expect(r.code, `vmactor ${args.join(' ')}`).toBe(0);
      return JSON.parse(r.out) as T;
    };
    const tpl = freshId('tpl');
    const clone = freshId('cln');
    const cfg = join(base, `${tpl}.json`);
    writeFileSync(cfg, JSON.stringify({ id: tpl, hypervisor: { memorySize: 256, bootToBeTemplate: true } }));
    try {
      expect(await json(['template', 'ls'])).toEqual([]);
      const vm = await json<Summary>(['create', '--config', cfg, '--start']);
      expect(vm).toMatchObject({ id: tpl, phase: 'running' });
      // A template VM that runs is not a template yet: its memory file is there, no template.json.
      expect(leftovers(join(templates, tpl))).toEqual(['memory']);
      expect(await json(['template', 'ls'])).toEqual([]);

      const saved = await json<TemplateSummary>(['template', 'save', tpl]);
      expect(saved).toMatchObject({ name: tpl, dir: join(templates, tpl), memoryMiB: 256, vcpus: 1 });
      expect(saved.stateBytes).toBeGreaterThan(0);
      expect(saved.memoryBytes).toBe(256 * 1024 * 1024);
      expect(saved.configHash).toMatch(/^[0-9a-f]{64}$/);
      expect(leftovers(join(templates, tpl)).sort()).toEqual(['devices.state', 'memory', 'template.json']);
      // Saving stops the template VM (it stays listed until rm).
      const after = await json<Summary[]>(['ps']);
      expect(after).toMatchObject([{ id: tpl, phase: 'stopped', qemuPid: null }]);
      expect(await json(['template', 'ls'])).toEqual([saved]);
      const table = await cli(['template', 'ls', '--socket', socket]);
      expect(table.code).toBe(0);
      expect(table.out.split('\n')[0]).toMatch(/^NAME\s+VCPUS\s+MEMORY\s+STATE\s+QEMU\s+CREATED$/);
      expect(table.out).toContain(tpl);

      const c = await json<Summary>(['create', '--id', clone, '--template', tpl, '--start']);
      expect(c).toMatchObject({ id: clone, phase: 'running', memoryMiB: 256 });
      expect(c.qemuPid).toBeGreaterThan(0);
      // It booted from the template: an incoming migration (devices.state) completed before running.
      const events = await eventsUntilRunning(socket, clone);
      const incoming = events.filter((e) => e.type === 'migration' && e.direction === 'incoming');
      expect(incoming.at(-1)).toMatchObject({ status: 'completed' });

      // Refused, naming the problem, creating nothing.
      const notTpl = await cli(['template', 'save', clone, '--socket', socket]);
      expect(notTpl.code).toBe(1);
      expect(notTpl.err).toMatch(
        /^vmactor template save: Expected a sandbox created with `hypervisor\.bootToBeTemplate: true`/,
      );
      const missing = await http(socket, 'POST', '/templates', JSON.stringify({ sandbox: 'nope' }));
      expect(missing.status).toBe(404);
      expect(missing.json().message).toBe('No sandbox `nope` on this host');
      const unknown = await http(socket, 'POST', '/templates', JSON.stringify({ sandbox: tpl, colour: 1 }));
      expect(unknown.status).toBe(400);
      expect(unknown.json().message).toMatch(/body\.colour: Unknown field `colour`/);
      const noTpl = await cli(['create', '--id', freshId('x'), '--template', 'nope', '--socket', socket]);
      expect(noTpl).toMatchObject({ code: 1, err: 'vmactor create: No template `nope` on this host\n' });
      const escaping = await http(
        socket,
        'POST',
        '/sandboxes?template=..%2F..%2Fetc',
        JSON.stringify({ id: 'e1' }),
      );
      expect(escaping.status).toBe(400);
      expect(escaping.json().message).toMatch(/querystring\.template/);
      const mismatch = await http(
        socket,
        'POST',
        `/sandboxes?template=${tpl}`,
        JSON.stringify({ id: freshId('mm'), hypervisor: { defaultBridges: 3 } }),
      );
      expect(mismatch.status).toBe(400);
      expect(mismatch.json().error).toBe('ERR_TEMPLATE_MISMATCH');
      expect((await json<Summary[]>(['ps'])).map((x) => x.id).sort()).toEqual([clone, tpl].sort());

      expect(await json(['rm', clone])).toEqual({ id: clone, removed: true });
      expect(await json(['rm', tpl])).toEqual({ id: tpl, removed: true });
      // The template outlives its template VM and its clones.
      expect((await json<TemplateSummary[]>(['template', 'ls'])).map((t) => t.name)).toEqual([tpl]);
    } finally {
      d.child.kill('SIGTERM');
      expect(await d.exited).toBe(0);
      rmSync(cfg, { force: true });
    }
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });
});
