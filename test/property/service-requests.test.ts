// Model-based property test: random request sequences against a real `vmactor serve` with real QEMU (default guest,
// TCG) — create/start/pause/resume/stop/delete/hot plug/unplug, bad ids, bad bodies, oversized bodies. Every answer is
// the one the model predicts, the daemon never dies, and after each sequence no process and no run dir is left.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { tempRunBase } from '../integration/sandbox-fixtures.js';
import {
  type Daemon,
  http,
  removeTempSockets,
  startDaemon,
  stopDaemons,
  streamBody,
  tempSocket,
} from '../integration/service-fixtures.js';

const RUNS = Number(process.env.VMACTOR_SERVICE_PROPERTY_RUNS ?? 40);
const MAX_COMMANDS = Number(process.env.VMACTOR_SERVICE_PROPERTY_COMMANDS ?? 25);
const SEED = Number(process.env.VMACTOR_SERVICE_PROPERTY_SEED ?? Date.now() % 2 ** 31);
const SLOTS = 3;

guest('cloud');
const base = tempRunBase();
const disks = mkdtempSync('/tmp/vmactor-prop-svc-disks-');
let d: Daemon;
let socket: string;

beforeAll(async () => {
  socket = tempSocket();
  d = await startDaemon(base, socket, ['--stop-on-exit', '--memory-budget', '2048']);
});
afterAll(async () => {
  await stopDaemons();
  rmSync(base, { recursive: true, force: true });
  rmSync(disks, { recursive: true, force: true });
  removeTempSockets();
});

type Phase = 'created' | 'running' | 'paused' | 'stopped';

interface Sb {
  phase: Phase;
  devices: Set<string>;
}

/** The model: the sandboxes the service holds (this run's), by slot. */
interface Model {
  readonly run: number;
  readonly sandboxes: Map<number, Sb>;
  nextDevice: number;
}

type Real = Record<string, never>;

/** What the runs did, to show they exercised real VMs (not only refusals). */
const tally = { commands: 0, starts: 0, plugs: 0, unplugs: 0, refusals: 0 };

const idOf = (m: Model, slot: number) => `prop-${m.run}-${slot}`;

/** The service agrees with the model: every sandbox of this run, its phase and its hot-plugged devices. */
async function invariant(m: Model): Promise<void> {
  expect(d.child.exitCode, 'the daemon is alive').toBeNull();
  const list = (await http(socket, 'GET', '/sandboxes')).json<
    { id: string; phase: string; devices: { id: string; origin: string }[] }[]
  >();
  const want = [...m.sandboxes.entries()]
    .map(([slot, s]) => ({ id: idOf(m, slot), phase: s.phase, devices: [...s.devices].sort() }))
    .sort((a, b) => a.id.localeCompare(b.id));
  const got = list.map((s) => ({
    id: s.id,
    phase: s.phase,
    devices: s.devices
      .filter((x) => x.origin === 'hot')
      .map((x) => x.id)
      .sort(),
  }));
  expect(got).toEqual(want);
}

/** One request and the statuses the model allows for it (the first is what it predicts). */
async function expectStatus(
  method: string,
  path: string,
  allowed: readonly number[],
  body?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await http(socket, method, path, body);
  expect(allowed, `${method} ${path} answered ${r.status}: ${r.body}`).toContain(r.status);
  expect(r.status, `${method} ${path}: never a 5xx`).toBeLessThan(500);
  return { status: r.status, json: r.body ? r.json() : {} };
}

abstract class Cmd implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  abstract apply(m: Model): Promise<void>;
  async run(m: Model): Promise<void> {
    tally.commands++;
    await this.apply(m);
    await invariant(m);
  }
  abstract toString(): string;
}

class Create extends Cmd {
  constructor(readonly slot: number) {
    super();
  }
  async apply(m: Model) {
    const id = idOf(m, this.slot);
    const held = m.sandboxes.has(this.slot);
    const body = JSON.stringify({ id, hypervisor: { memorySize: 256 } });
    const r = await expectStatus('POST', '/sandboxes', held ? [409] : [201], body);
    if (r.status === 409) expect(r.json.reason).toBe('duplicate-id');
    else m.sandboxes.set(this.slot, { phase: 'created', devices: new Set() });
  }
  toString = () => `create(${this.slot})`;
}

class Lifecycle extends Cmd {
  constructor(
    readonly slot: number,
    readonly action: 'start' | 'pause' | 'resume' | 'stop',
  ) {
    super();
  }
  async apply(m: Model) {
    const sb = m.sandboxes.get(this.slot);
    const path = `/sandboxes/${idOf(m, this.slot)}/${this.action}`;
    if (!sb) {
      await expectStatus('POST', path, [404]);
      return;
    }
    const live = sb.phase === 'running' || sb.phase === 'paused';
    const next: Record<typeof this.action, Phase | undefined> = {
      start: sb.phase === 'created' ? 'running' : live ? sb.phase : undefined,
      pause: live ? 'paused' : undefined,
      resume: live ? 'running' : undefined,
      stop: 'stopped',
    };
    const to = next[this.action];
    const r = await expectStatus('POST', path, to ? [200] : [409]);
    if (to) {
      expect(r.json.phase).toBe(to);
      if (this.action === 'start' && sb.phase === 'created') tally.starts++;
      // A stopped sandbox keeps its device record as it was (what it had when it stopped).
      sb.phase = to;
    } else {
      expect(r.json.error).toBe('ERR_SANDBOX_STATE');
      tally.refusals++;
    }
  }
  toString = () => `${this.action}(${this.slot})`;
}

class Remove extends Cmd {
  constructor(readonly slot: number) {
    super();
  }
  async apply(m: Model) {
    const held = m.sandboxes.has(this.slot);
    await expectStatus('DELETE', `/sandboxes/${idOf(m, this.slot)}`, held ? [200] : [404]);
    m.sandboxes.delete(this.slot);
  }
  toString = () => `rm(${this.slot})`;
}

class Plug extends Cmd {
  constructor(readonly slot: number) {
    super();
  }
  async apply(m: Model) {
    const sb = m.sandboxes.get(this.slot);
    const id = idOf(m, this.slot);
    const dev = `d${m.nextDevice++}`;
    const file = join(disks, `${id}-${dev}.img`);
    writeFileSync(file, Buffer.alloc(1024 * 1024));
    const body = JSON.stringify({ kind: 'block', id: dev, file });
    // A running VM takes the disk; a paused one too (QMP answers while the vCPUs are stopped);
    // one that was never started or has stopped refuses (no QEMU to plug into).
    const allowed = !sb ? [404] : sb.phase === 'running' || sb.phase === 'paused' ? [201] : [409];
    const r = await expectStatus('POST', `/sandboxes/${id}/devices`, allowed, body);
    if (r.status === 201) {
      sb?.devices.add(dev);
      tally.plugs++;
    }
  }
  toString = () => `plug(${this.slot})`;
}

class Unplug extends Cmd {
  constructor(
    readonly slot: number,
    readonly pick: number,
  ) {
    super();
  }
  async apply(m: Model) {
    // Most often a slot that has a hot-plugged device (else the slot drawn).
    const withDevices = [...m.sandboxes.entries()].filter(([, x]) => x.devices.size > 0);
    const chosen = withDevices.length
      ? (withDevices[this.pick % withDevices.length] as [number, Sb])[0]
      : this.slot;
    const sb = m.sandboxes.get(chosen);
    const id = idOf(m, chosen);
    const devs = [...(sb?.devices ?? [])];
    const dev = devs.length ? (devs[this.pick % devs.length] as string) : 'nodev';
    const live = sb?.phase === 'running' || sb?.phase === 'paused';
    // No QEMU (never started, or stopped): refused, as unknown device or as the wrong state.
    const allowed = !sb ? [404] : !live ? [404, 409] : devs.length ? [200] : [404];
    const r = await expectStatus('DELETE', `/sandboxes/${id}/devices/${dev}`, allowed);
    if (r.status === 200) {
      sb?.devices.delete(dev);
      tally.unplugs++;
    }
  }
  toString = () => `unplug(${this.slot}, ${this.pick})`;
}

/** Pause, resume, pause and a GET sent at once: each answered (200, or 409 when the state moved), the VM ends running or paused. */
class Burst extends Cmd {
  constructor(readonly slot: number) {
    super();
  }
  async apply(m: Model) {
    const sb = m.sandboxes.get(this.slot);
    const id = idOf(m, this.slot);
    if (!sb || (sb.phase !== 'running' && sb.phase !== 'paused')) {
      await expectStatus('GET', `/sandboxes/${id}`, sb ? [200] : [404]);
      return;
    }
    const answers = await Promise.all(
      ['pause', 'resume', 'pause'].map((a) => http(socket, 'POST', `/sandboxes/${id}/${a}`)),
    );
    for (const r of answers) {
      expect([200, 409], r.body).toContain(r.status);
    }
    const now = (await http(socket, 'GET', `/sandboxes/${id}`)).json<{ phase: Phase }>();
    expect(['running', 'paused']).toContain(now.phase);
    sb.phase = now.phase;
  }
  toString = () => `burst(${this.slot})`;
}

/** Requests that must be refused with a 4xx naming the problem, creating nothing. */
class Bad extends Cmd {
  constructor(readonly kind: 'id' | 'path-id' | 'unknown-field' | 'json' | 'device' | 'big') {
    super();
  }
  async apply(m: Model) {
    tally.refusals++;
    switch (this.kind) {
      case 'id': {
        const r = await expectStatus('POST', '/sandboxes', [400], JSON.stringify({ id: '../escape' }));
        expect(String(r.json.message)).toMatch(/body\.id/);
        break;
      }
      case 'path-id': {
        const r = await expectStatus('POST', '/sandboxes/..%2F..%2Fetc/start', [400]);
        expect(String(r.json.message)).toMatch(/params\.id/);
        break;
      }
      case 'unknown-field': {
        const body = JSON.stringify({ id: idOf(m, 9), hypervisor: { memorySize: 256 }, colour: 'red' });
        const r = await expectStatus('POST', '/sandboxes', [400], body);
        expect(String(r.json.message)).toMatch(/body\.colour: Unknown field `colour`/);
        break;
      }
      case 'json': {
        const r = await expectStatus('POST', '/sandboxes', [400], '{"id": ');
        expect(String(r.json.message)).toMatch(/JSON/);
        break;
      }
      case 'device': {
        const [slot] = [...m.sandboxes.keys()];
        const id = slot === undefined ? idOf(m, 0) : idOf(m, slot);
        const body = JSON.stringify({ kind: 'block', id: 'x', file: 'relative.img' });
        const r = await expectStatus('POST', `/sandboxes/${id}/devices`, [400], body);
        expect(String(r.json.message)).toMatch(/body\.file/);
        break;
      }
      case 'big': {
        const r = await streamBody(socket, '/sandboxes', 4 * 1024 * 1024, 'chunked');
        expect(r.head).toMatch(/^HTTP\/1\.1 413 /);
        break;
      }
    }
  }
  toString = () => `bad(${this.kind})`;
}

const slot = fc.integer({ min: 0, max: SLOTS - 1 });
/** Create and start one slot in one command, so sequences reach running VMs often. */
class Up extends Cmd {
  constructor(readonly slot: number) {
    super();
  }
  async apply(m: Model) {
    await new Create(this.slot).apply(m);
    await new Lifecycle(this.slot, 'start').apply(m);
  }
  toString = () => `up(${this.slot})`;
}
const commands = [
  slot.map((s) => new Up(s)),
  slot.map((s) => new Up(s)),
  slot.map((s) => new Create(s)),
  slot.map((s) => new Create(s)),
  fc
    .tuple(slot, fc.constantFrom('start', 'pause', 'resume', 'stop') as fc.Arbitrary<'start'>)
    .map(([s, a]) => new Lifecycle(s, a)),
  fc.tuple(slot, fc.constant('start' as const)).map(([s, a]) => new Lifecycle(s, a)),
  slot.map((s) => new Remove(s)),
  slot.map((s) => new Plug(s)),
  slot.map((s) => new Plug(s)),
  fc.tuple(slot, fc.nat(4)).map(([s, p]) => new Unplug(s, p)),
  fc.tuple(slot, fc.nat(4)).map(([s, p]) => new Unplug(s, p)),
  slot.map((s) => new Burst(s)),
  fc.constantFrom('id', 'path-id', 'unknown-field', 'json', 'device', 'big').map((k) => new Bad(k as 'id')),
];

describe('random request sequences against a real daemon', () => {
  it('are answered as the model predicts, never crash the daemon, and leave no process or run dir behind', async () => {
    console.info(
      `service request property: seed ${SEED} (replay: VMACTOR_SERVICE_PROPERTY_SEED=${SEED}; add VMACTOR_SERVICE_PROPERTY_PATH=<path> from a failure)`,
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: MAX_COMMANDS, size: 'max' }), async (cmds) => {
        const model: Model = { run: run++, sandboxes: new Map(), nextDevice: 0 };
        try {
          await fc.asyncModelRun(() => ({ model, real: {} }), cmds);
        } finally {
          // Whatever the sequence left is removed through the API.
          for (const slotNo of [...model.sandboxes.keys()]) {
            await http(socket, 'DELETE', `/sandboxes/${idOf(model, slotNo)}`);
          }
        }
        expect((await http(socket, 'GET', '/sandboxes')).json()).toEqual([]);
        expect(descendants(d.pid)).toEqual([]);
        expect(leftovers(base).filter((n) => !n.startsWith('.'))).toEqual([]);
        expect(d.child.exitCode).toBeNull();
      }),
      {
        numRuns: RUNS,
        seed: SEED,
        ...(process.env.VMACTOR_SERVICE_PROPERTY_PATH
          ? { path: process.env.VMACTOR_SERVICE_PROPERTY_PATH }
          : {}),
      },
    );
    expect(run).toBeGreaterThan(0);
    console.info(`service request property: ${run} sequences, ${JSON.stringify(tally)}`);
    // It cannot pass on refusals alone: real VMs were started and took disks.
    expect(tally.starts).toBeGreaterThan(0);
    expect(tally.plugs).toBeGreaterThan(0);
    const h = (await http(socket, 'GET', '/health')).json();
    expect(h).toMatchObject({ status: 'ok', pid: d.pid, sandboxes: 0 });
  }, 600_000);
});
