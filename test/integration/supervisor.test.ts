// The Supervisor with real QEMU and the default guest: admission limits, bounded starts, one numbered event stream.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { SandboxConfig } from '../../src/config/types.js';
import { sandboxSystemId } from '../../src/sandbox/sandbox-core.js';
import { AdmissionError } from '../../src/supervisor/errors.js';
import { reattachRunBase } from '../../src/supervisor/recover.js';
import type { HostEvent } from '../../src/supervisor/supervisor.js';
import { openSupervisor } from '../../src/supervisor/supervisor.js';
import { alive, descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { freshId, quietLogger, tempRunBase } from './sandbox-fixtures.js';

const base = tempRunBase();
afterAll(() => rmSync(base, { recursive: true, force: true }));
const g = guest('cloud');

function config(id: string, memorySize = 256): SandboxConfig {
  return { id, hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize } };
}

describe('Supervisor', () => {
  it('refuses past the maximum and past the memory budget naming the reason, creating nothing', async () => {
    const sup = await openSupervisor({
      runBase: base,
      logger: quietLogger,
      maxSandboxes: 2,
      memoryBudgetMiB: 1024,
      sandboxOptions: { accelerator: 'tcg' },
    });
    const [a, b, c] = [freshId('adm'), freshId('adm'), freshId('adm')];
    await sup.create(config(a, 512));
    const over = await sup.create(config(b, 768)).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(AdmissionError);
    expect((over as AdmissionError).reason).toBe('memory-budget');
    expect((over as AdmissionError).message).toMatch(/768 MiB.*512 MiB of the 1024 MiB memory budget/);
    await sup.create(config(b, 256));
    const third = await sup.create(config(c, 256)).catch((e: unknown) => e);
    expect((third as AdmissionError).reason).toBe('max-sandboxes');
    const dup = await sup.create(config(a, 256)).catch((e: unknown) => e);
    expect((dup as AdmissionError).reason).toBe('duplicate-id');
    expect(sup.list().map((s) => s.id)).toEqual([a, b].sort());
    await sup.close({ stopSandboxes: true });
    expect(leftovers(base).filter((n) => !n.startsWith('.'))).toEqual([]);
    expect(descendants()).toEqual([]);
  });

  it('starts at most `startConcurrency` at once and streams every event with a gapless sequence', async () => {
    const sup = await openSupervisor({
      runBase: base,
      logger: quietLogger,
      startConcurrency: 1,
      sandboxOptions: { accelerator: 'tcg' },
    });
    const seen: { seq: number; event: HostEvent }[] = [];
    sup.events.events$.subscribe((e) => seen.push(e));
    const ids = [freshId('gate'), freshId('gate'), freshId('gate')];
    for (const id of ids) await sup.create(config(id));
    const maxActive: number[] = [];
    sup.events.events$.subscribe(() => maxActive.push(sup.starts.active));
    await Promise.all(ids.map((id) => sup.start(id)));
    expect(Math.max(...maxActive)).toBe(1);
    expect(sup.list().map((s) => s.phase)).toEqual(['running', 'running', 'running']);
    for (const s of sup.list()) expect(s.qemuPid).toBeGreaterThan(0);
    // One start at a time: no sandbox enters `starting` while another is still starting.
    const starting = new Set<string>();
    for (const { event: e } of seen) {
      if (e.type !== 'lifecycle') continue;
      if (e.to === 'starting') {
        expect([...starting]).toEqual([]);
        starting.add(e.sandboxId);
      } else starting.delete(e.sandboxId);
    }
    await Promise.all(ids.map((id) => sup.remove(id)));
    expect(sup.list()).toEqual([]);
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i + 1));
    const removed = seen.filter((e) => e.event.type === 'supervisor' && e.event.change === 'removed');
    expect(removed.map((e) => e.event.sandboxId).sort()).toEqual([...ids].sort());
    expect(sup.events.since(0).events).toEqual(seen);
    await sup.close({ stopSandboxes: true });
    expect(descendants()).toEqual([]);
    expect(leftovers(base).filter((n) => !n.startsWith('.'))).toEqual([]);
  });

  it('runs the recovery step before admitting anything', async () => {
    const steps: string[] = [];
    const sup = await openSupervisor({
      runBase: base,
      logger: quietLogger,
      recover: async (host) => {
        steps.push(`recover ${host.runBase}`);
      },
    });
    steps.push(sup.state);
    expect(steps).toEqual([`recover ${base}`, 'serving']);
    await sup.close({ stopSandboxes: false });
    expect(sup.state).toBe('closed');
  });

  it('holds every sandbox actor in its own actor system under `sandbox:<id>`, recovered ones too; a detached one leaves it', async () => {
    const opts = { runBase: base, logger: quietLogger, sandboxOptions: { accelerator: 'tcg' as const } };
    const sup = await openSupervisor(opts);
    const [a, b] = [freshId('sys'), freshId('sys')];
    await sup.create(config(a));
    await sup.create(config(b));
    await sup.start(a);
    expect(sup.system.get(sandboxSystemId(a))).toBe(sup.get(a).actor);
    expect(sup.system.get(sandboxSystemId(b))).toBe(sup.get(b).actor);
    // Detached: the supervisor (its parent) stops the actor, the VM keeps running.
    const qemuPid = sup.get(a).getPids()[0];
    await sup.get(a).detach();
    expect(sup.system.get(sandboxSystemId(a))).toBeUndefined();
    expect(sup.get(a).actor.getSnapshot().status).toBe('stopped');
    expect(alive(qemuPid as number)).toBe(true);
    expect(sup.state).toBe('serving');
    // A second supervisor reattaches it at boot: its actor joins that supervisor's system.
    const sup2 = await openSupervisor({ ...opts, recover: reattachRunBase });
    const again = sup2.get(a);
    expect(again.getPids()[0]).toBe(qemuPid);
    expect(sup2.system.get(sandboxSystemId(a))).toBe(again.actor);
    await again.stop();
    // An ended sandbox actor leaves the system (its id can be used again).
    expect(sup2.system.get(sandboxSystemId(a))).toBeUndefined();
    await sup.remove(b);
    expect(sup.system.get(sandboxSystemId(b))).toBeUndefined();
    await sup2.close({ stopSandboxes: true });
    await sup.close({ stopSandboxes: false });
    expect(leftovers(base).filter((n) => !n.startsWith('.'))).toEqual([]);
    expect(descendants()).toEqual([]);
  });
});
