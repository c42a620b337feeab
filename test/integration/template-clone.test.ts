// VM templates against real QEMU and the default guest (TCG): save a template VM, boot clones from it side by side.
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SandboxConfig } from '../../src/config/types.js';
import type { SandboxEvent, SandboxMigrationEvent } from '../../src/sandbox/events.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { cloneSetupDone } from '../../src/sandbox/template/boot.js';
import { readTemplate, type Template } from '../../src/sandbox/template/template-file.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { createTracked, freshId, quietLogger, stopAll, tempRunBase } from './sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
const shm = mkdtempSync('/dev/shm/vmactor-test-tpl-');
afterEach(stopAll);
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(shm, { recursive: true, force: true });
});

const hv = { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256, defaultMaxVCPUs: 2 } as const;

function cfg(id: string, extra: SandboxConfig['hypervisor'] = {}): SandboxConfig {
  return { id, hypervisor: { ...hv, ...extra } };
}

const opts = { runDir: base, logger: quietLogger, accelerator: 'tcg' as const };

function migrations(sb: Sandbox): SandboxMigrationEvent[] {
  const out: SandboxMigrationEvent[] = [];
  sb.events$.subscribe((e: SandboxEvent) => {
    if (e.type === 'migration') out.push(e);
  });
  return out;
}

/** Boots a template VM, writes a marker into its tmpfs, saves it into a fresh dir. */
async function makeTemplate(
  marker: string,
): Promise<{ template: Template; events: SandboxMigrationEvent[] }> {
  const dir = mkdtempSync(`${shm}/t-`);
  const tpl = await createTracked(cfg(freshId('tpl'), { bootToBeTemplate: true }), {
    ...opts,
    templateDir: dir,
  });
  const events = migrations(tpl);
  await tpl.start();
  const agent = await tpl.agent();
  await agent.waitReady({ timeout: 60_000 });
  await agent.request('write-file', ['/tmp/marker', marker]);
  const template = await tpl.saveTemplate(dir);
  expect(tpl.phase).toBe('stopped');
  return { template, events };
}

describe('VM templates (default guest, TCG)', () => {
  it('saves a template whose marker three clones read side by side; a write in one clone is not seen in another', async () => {
    const { template, events } = await makeTemplate('made-before-save');
    // The save as QEMU reported it: setup → active (with RAM pass counts) → completed.
    const statuses = events.map((e) => e.status);
    expect(statuses[0]).toBe('setup');
    expect(statuses).toContain('active');
    expect(statuses.at(-1)).toBe('completed');
    expect(events.every((e) => e.direction === 'outgoing')).toBe(true);
    console.info(
      'outgoing migration events:',
      JSON.stringify(events.map(({ status, pass }) => ({ status, pass }))),
    );
    const back = await readTemplate(template.dir);
    expect(back.configHash).toBe(template.configHash);
    expect(back.qemu.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(back.stateBytes).toBeGreaterThan(0);

    const clones = await Promise.all(
      [1, 2, 3].map((i) => createTracked(cfg(freshId(`clone${i}`)), { ...opts, template, guestAgent: true })),
    );
    const incoming = clones.map(migrations);
    await Promise.all(clones.map((c) => c.start()));
    const agents = await Promise.all(clones.map((c) => c.agent()));
    const markers = await Promise.all(agents.map((a) => a.readFile('/tmp/marker', { timeout: 30_000 })));
    expect(markers.map((m) => m.toString())).toEqual([
      'made-before-save',
      'made-before-save',
      'made-before-save',
    ]);
    for (const list of incoming) expect(list.map((e) => e.status)).toContain('completed');
    for (const list of incoming) expect(list.every((e) => e.direction === 'incoming')).toBe(true);

    await agents[0]?.request('write-file', ['/tmp/marker', 'clone-one-wrote']);
    expect((await agents[0]?.readFile('/tmp/marker'))?.toString()).toBe('clone-one-wrote');
    expect((await agents[1]?.readFile('/tmp/marker'))?.toString()).toBe('made-before-save');
    for (const a of agents) expect(await a.request('ping', [])).toMatchObject({ pong: true });
    // Each clone's RNG reseed and clock sync went through its agent (guestAgent: true).
    await Promise.all(clones.map((c) => cloneSetupDone(c)));
    const now = Math.floor(Date.now() / 1000);
    const clock = await agents[2]?.request('set-clock', [now]);
    expect(Math.abs((clock?.now ?? 0) - now)).toBeLessThanOrEqual(1);
    expect(await agents[2]?.request('reseed', [Buffer.alloc(32, 7).toString('base64')])).toEqual({
      reseeded: 32,
    });

    const stops = await Promise.all(clones.map((c) => c.stop()));
    expect(stops.map((s) => s.stopReason)).toEqual(['requested', 'requested', 'requested']);
    expect(leftovers(template.dir).sort()).toEqual(['devices.state', 'memory', 'template.json']);
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });
});
