// Model-based property test: random lifecycle sequences (start, pause, resume, stop, a pause or
// resume by someone else on the second QMP monitor, SIGKILL of QEMU or virtiofsd) run against the
// real sandbox actor, real QEMU (no guest) and real virtiofsd. After every sequence: the model
// state matches, the event stream has only possible transitions and ends in `stopped` with the
// right reason, and no process, socket or run dir is left.
import { mkdtempSync, rmSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { SandboxPhase, StopReason } from '../../machines/sandbox.types.js';
import { QmpClient } from '../../src/qmp/client.js';
import { type LifecycleEvent, openSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { descendants, leftovers } from '../helpers/census.js';
import { QEMU, VIRTIOFSD } from '../helpers/env.js';
import { bareSpec, quietLogger, tempRunBase } from '../integration/sandbox-fixtures.js';

const RUNS = Number(process.env.VMACTOR_PROPERTY_RUNS ?? 50);

interface Model {
  phase: 'created' | 'running' | 'paused' | 'stopped';
  reason: StopReason | null;
}

interface Real {
  readonly sb: Sandbox;
  readonly events: LifecycleEvent[];
}

/** Every transition the public phase may take. */
const POSSIBLE = new Set([
  'created->starting',
  'created->stopped',
  'starting->running',
  'starting->stopping',
  'running->paused',
  'paused->running',
  'running->stopping',
  'paused->stopping',
  'stopping->stopped',
]);

function nextEvent(real: Real, to: SandboxPhase): Promise<void> {
  return new Promise((resolve) => {
    const sub = real.sb.events$.subscribe((e) => {
      if (e.type === 'lifecycle' && (e.to === to || e.to === 'stopped')) {
        sub.unsubscribe();
        resolve();
      }
    });
  });
}

const live = (m: Model) => m.phase === 'running' || m.phase === 'paused';

class Start implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.phase === 'created';
  async run(m: Model, r: Real) {
    await r.sb.start();
    m.phase = 'running';
    expect(r.sb.phase).toBe('running');
  }
  toString = () => 'start';
}

class Pause implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => live(m);
  async run(m: Model, r: Real) {
    await r.sb.pause();
    m.phase = 'paused';
    expect(r.sb.phase).toBe('paused');
  }
  toString = () => 'pause';
}

class Resume implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => live(m);
  async run(m: Model, r: Real) {
    await r.sb.resume();
    m.phase = 'running';
    expect(r.sb.phase).toBe('running');
  }
  toString = () => 'resume';
}

/** `stop` or `cont` sent by someone else on the second monitor (`qmp.sock`). */
class External implements fc.AsyncCommand<Model, Real> {
  constructor(readonly command: 'stop' | 'cont') {}
  check = (m: Readonly<Model>) => m.phase === (this.command === 'stop' ? 'running' : 'paused');
  async run(m: Model, r: Real) {
    const to = this.command === 'stop' ? 'paused' : 'running';
    const other = await QmpClient.connectUnix(r.sb.plan.paths.qmpSocket as string);
    try {
      const seen = nextEvent(r, to);
      await other.execute(this.command);
      await seen;
    } finally {
      other.close();
    }
    m.phase = to;
    expect(r.sb.phase).toBe(to);
    expect(r.events.at(-1)).toMatchObject({ to, reason: 'external' });
  }
  toString = () => `external ${this.command}`;
}

class Stop implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.phase !== 'stopped';
  async run(m: Model, r: Real) {
    const out = await r.sb.stop();
    m.phase = 'stopped';
    m.reason = 'requested';
    expect(out.stopReason).toBe('requested');
  }
  toString = () => 'stop';
}

class Kill implements fc.AsyncCommand<Model, Real> {
  constructor(readonly which: 'qemu' | 'virtiofsd') {}
  check = (m: Readonly<Model>) => live(m);
  async run(m: Model, r: Real) {
    const [qemuPid, vPid] = r.sb.getPids();
    const pid = this.which === 'qemu' ? qemuPid : vPid;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid as number, 'SIGKILL');
    const out = await r.sb.stopped;
    m.phase = 'stopped';
    m.reason = this.which === 'qemu' ? 'crashed' : 'virtiofsd-exited';
    expect(out.stopReason).toBe(m.reason);
  }
  toString = () => `SIGKILL ${this.which}`;
}

const commands = [
  fc.constant(new Start()),
  fc.constant(new Pause()),
  fc.constant(new Resume()),
  fc.constant(new External('stop')),
  fc.constant(new External('cont')),
  fc.constant(new Stop()),
  fc.constant(new Kill('qemu')),
  fc.constant(new Kill('virtiofsd')),
];

describe('random lifecycle sequences against real QEMU and virtiofsd', () => {
  const base = tempRunBase();
  const share = mkdtempSync('/tmp/vmactor-share-');
  afterAll(() => {
    rmSync(base, { recursive: true, force: true });
    rmSync(share, { recursive: true, force: true });
  });

  it(`keep model, events and census consistent over ${RUNS} sequences`, async () => {
    let sequences = 0;
    let started = 0;
    const kinds = new Map<string, number>();
    await fc.assert(
      // Four sequences in five begin with a start, so most of them exercise a live VM.
      fc.asyncProperty(fc.nat(4), fc.commands(commands, { maxCommands: 8 }), async (head, cmds) => {
        sequences += 1;
        const sb = openSandbox(
          bareSpec(QEMU as string, { virtiofsd: { binary: VIRTIOFSD as string, source: share } }),
          { runDir: base, logger: quietLogger },
        );
        const events: LifecycleEvent[] = [];
        sb.events$.subscribe((e) => {
          if (e.type === 'lifecycle') events.push(e);
        });
        const model: Model = { phase: 'created', reason: null };
        try {
          if (head > 0) await new Start().run(model, { sb, events });
          await fc.asyncModelRun(() => ({ model, real: { sb, events } }), cmds);
        } finally {
          await sb.stop();
        }
        if (events.some((e) => e.to === 'running')) started += 1;
        for (const c of cmds) kinds.set(String(c), (kinds.get(String(c)) ?? 0) + 1);
        // Ends stopped, with the reason the model predicts (requested when the sequence did not stop it).
        const out = await sb.stopped;
        expect(out.stopReason).toBe(model.reason ?? 'requested');
        // The stream: contiguous, only possible transitions, last one into stopped.
        let phase: SandboxPhase = 'created';
        for (const e of events) {
          expect(e.from).toBe(phase);
          expect(POSSIBLE.has(`${e.from}->${e.to}`)).toBe(true);
          phase = e.to;
        }
        expect(phase).toBe('stopped');
        expect(events.at(-1)?.reason).toBe(out.stopReason);
        // Census: no process, no socket, no run dir.
        expect(descendants()).toEqual([]);
        expect(leftovers(base)).toEqual([]);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    expect(sequences).toBeGreaterThanOrEqual(RUNS);
    // Most sequences must actually have run a VM.
    expect(started).toBeGreaterThanOrEqual(Math.floor(RUNS / 2));
    console.info(`sequences=${sequences} started=${started}`, Object.fromEntries(kinds));
  }, 600_000);
});
