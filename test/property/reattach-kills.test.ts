// fast-check: random lifecycle operations, hot plugs and vCPU resizes on a controller child, SIGKILLed at a random
// point (mid-start, between or during an operation, mid-stop), then recoverSandboxes: the recovered record equals
// what QMP reports, no VM is lost, none runs twice, and after stop no process, socket or dir is left.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readStateFile } from '../../src/sandbox/state-file.js';
import { recoverSandboxes } from '../../src/supervisor/recover.js';
import { alive, leftovers } from '../helpers/census.js';
import { withDeadline } from '../integration/guest-harness.js';
import { killForeign, processesOf } from '../integration/reattach-fixtures.js';
import { quietLogger, tempRunBase } from '../integration/sandbox-fixtures.js';

const CHILD = join(import.meta.dirname, 'reattach-ops.child.ts');
const KILLS = Number(process.env.VMACTOR_KILL_RUNS ?? 20);
const base = tempRunBase();
const diskDir = mkdtempSync('/tmp/vmactor-kill-disks-');
for (let n = 0; n < 3; n++) {
  writeFileSync(join(diskDir, `d${n}.img`), '');
  truncateSync(join(diskDir, `d${n}.img`), 8 * 1024 * 1024);
}
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(diskDir, { recursive: true, force: true });
});

type Op = { op: 'pause' | 'resume' | 'plug' | 'unplug' | 'vcpus' | 'stop'; n: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ op: 'pause', n: 0 }),
  fc.constant<Op>({ op: 'resume', n: 0 }),
  fc.integer({ min: 0, max: 2 }).map((n): Op => ({ op: 'plug', n })),
  fc.integer({ min: 0, max: 2 }).map((n): Op => ({ op: 'unplug', n })),
  fc.integer({ min: 1, max: 2 }).map((n): Op => ({ op: 'vcpus', n })),
);
const scenarioArb = fc.record({
  ops: fc.array(opArb, { maxLength: 6 }).map((ops) => ops),
  endWithStop: fc.boolean(),
  killAt: fc.nat({ max: 7 }),
  mid: fc.constantFrom('no', 'began', 'applied'),
  inStart: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
});

class Controller {
  readonly lines: Interface;
  private readonly queue: Record<string, unknown>[] = [];
  private waiter: (() => void) | undefined;
  readonly exited: Promise<void>;
  constructor(readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! });
    this.lines.on('line', (l) => {
      this.queue.push(JSON.parse(l) as Record<string, unknown>);
      this.waiter?.();
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }
  /** The next line matching `pred` (deadline 60 s). */
  async next(pred: (o: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const find = async () => {
      for (;;) {
        const i = this.queue.findIndex(pred);
        if (i >= 0) return this.queue.splice(i, 1)[0] as Record<string, unknown>;
        await new Promise<void>((resolve) => {
          this.waiter = resolve;
        });
      }
    };
    return withDeadline(find(), 60_000, 'a controller line');
  }
  send(o: Record<string, unknown>): void {
    this.child.stdin?.write(`${JSON.stringify(o)}\n`);
  }
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null)
      process.kill(this.child.pid as number, 'SIGKILL');
    await this.exited;
  }
}

const found: string[] = [];

describe('controller SIGKILLed at random points, then recoverSandboxes', () => {
  it(`recovers every live VM exactly once with a record equal to QMP, and leaves nothing (${KILLS} kills)`, async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        run += 1;
        const id = `kill-${process.pid}-${run}`;
        const runDir = join(base, id);
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', CHILD, base, id, diskDir, s.inStart ? 'freeze-in-start' : 'run'],
          { stdio: ['pipe', 'pipe', 'inherit'] },
        );
        const c = new Controller(child);
        let qemuPid = 0;
        let expectLive = true;
        try {
          if (s.inStart) {
            qemuPid = Number((await c.next((o) => o.starting === true)).qemuPid);
            expectLive = false;
          } else {
            qemuPid = Number((await c.next((o) => o.started === true)).qemuPid);
            const ops: Op[] = [...s.ops, ...(s.endWithStop ? [{ op: 'stop' as const, n: 0 }] : [])];
            const killAt = Math.min(s.killAt, ops.length);
            for (let i = 0; i < killAt; i++) {
              c.send({ i, ...ops[i] });
              await c.next((o) => o.done === i);
              if (ops[i]?.op === 'stop') expectLive = false;
            }
            const midOp = ops[killAt];
            if (s.mid !== 'no' && midOp) {
              c.send({ i: killAt, ...midOp });
              const applies = midOp.op === 'plug' || midOp.op === 'unplug' || midOp.op === 'vcpus';
              if (s.mid === 'applied' && applies) {
                // Killed once QEMU accepted the operation (or it settled first, e.g. refused).
                await c.next((o) => o.applied === `op${killAt}` || o.done === killAt);
              } else await c.next((o) => o.began === killAt);
              if (midOp.op === 'stop') expectLive = false;
            }
          }
          await c.kill();
          const wasAlive = qemuPid > 0 && alive(qemuPid);
          const outcomes = await recoverSandboxes(base, { logger: quietLogger, qmpCommandTimeoutMs: 5_000 });
          expect(outcomes.length).toBeLessThanOrEqual(1);
          const o = outcomes[0];
          const report = o?.outcome === 'reattached' ? [...o.report.differences, ...o.report.recovered] : [];
          found.push(
            `${s.inStart ? 'start' : `${s.ops.map((x) => x.op).join(',')}@${s.killAt}${s.mid === 'no' ? '' : s.mid}`}→${o?.outcome ?? 'none'}${report.length ? ` [${report.join('; ')}]` : ''}`,
          );
          if (wasAlive && expectLive) expect(o?.outcome).toBe('reattached');
          if (o?.outcome === 'reattached') {
            const sb = o.sandbox;
            expect(sb.getPids()[0]).toBe(qemuPid);
            // None runs twice: one QEMU (and its virtiofsd, none here) for this run dir.
            expect(processesOf(runDir)).toEqual([qemuPid]);
            const qmp = sb.qmp;
            if (!qmp) throw new Error('no QMP');
            const peripheral = (await qmp.execute('qom-list', { path: '/machine/peripheral' }))
              .filter((p) => p.type.startsWith('child<'))
              .map((p) => p.name);
            const disks = peripheral.filter((n) => /^d\d$/.test(n)).sort();
            expect(
              sb
                .devices()
                .filter((d) => d.origin === 'hot')
                .map((d) => d.id)
                .sort(),
            ).toEqual(disks);
            const cpus = (await qmp.execute('query-hotpluggable-cpus'))
              .flatMap((x) =>
                x['qom-path']?.startsWith('/machine/peripheral/') ? [x['qom-path'].split('/')[3]] : [],
              )
              .sort();
            expect(
              readStateFile(runDir)
                .devices?.vcpus.map((v) => v.id)
                .sort(),
            ).toEqual(cpus);
            await sb.pause();
            await sb.resume();
            await sb.stop();
          }
          expect(alive(qemuPid)).toBe(false);
          expect(processesOf(runDir)).toEqual([]);
          expect(leftovers(base)).toEqual([]);
        } finally {
          await c.kill();
          for (const pid of processesOf(runDir)) await killForeign(pid);
          rmSync(runDir, { recursive: true, force: true });
        }
      }),
      { numRuns: KILLS, endOnFailure: true },
    );
    expect(found.length).toBe(KILLS);
    process.stdout.write(`kill runs: ${found.join(' | ')}\n`);
  }, 1_200_000);
});
