// The live inspector in real Chromium against a real sandbox on real QEMU: highlighted states, the
// timeline of a hot plug, the stop reason, the replay for a page opened late, and the token check.

import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InspectMessage, type Inspector, inspect } from '../../src/inspect/index.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { launchChromium } from '../helpers/chromium.js';
import { guest } from '../helpers/env.js';
import {
  createTracked,
  freshId,
  quietLogger,
  stopAll,
  tempRunBase,
} from '../integration/sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
const files = mkdtempSync('/tmp/vmactor-inspect-');
const SCREENSHOT = fileURLToPath(new URL('../../docs/inspector.png', import.meta.url));
/** Deadline of every wait on the page (a TCG guest on a busy 2-core host). */
const WAIT = { timeout: 30_000 } as const;

let browser: Browser;
let sb: Sandbox;
let inspector: Inspector;
let page: Page;
const requested: string[] = [];
/** Every snapshot the inspector published (the replay keeps only the latest). */
const seenSnapshots: InspectMessage[] = [];

function image(name: string): string {
  const file = join(files, name);
  writeFileSync(file, '');
  truncateSync(file, 4 * 1024 * 1024);
  return file;
}

/** The state group of the chart for a state path. */
function state(p: Page, path: string) {
  return p.locator(`#chart g.state[data-state="${path}"]`);
}

/** Timeline summaries as the page shows them, oldest first. */
function summaries(p: Page): Promise<string[]> {
  return p
    .locator('#timeline li')
    .evaluateAll((lis) => lis.map((li) => li.getAttribute('data-summary') ?? ''));
}

/** A GET with a chosen Host header (fetch cannot set it): the status code. */
function statusOf(url: string, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers: host ? { host } : {} },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.once('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  browser = await launchChromium();
  sb = await createTracked(
    {
      id: freshId('insp'),
      hypervisor: {
        kernelPath: g.kernel,
        initrdPath: g.initrd,
        memorySize: 256,
        blockDeviceDriver: 'virtio-scsi',
      },
      devices: [{ kind: 'block', id: 'c0', file: image('c0.img') }],
    },
    { runDir: base, logger: quietLogger, accelerator: 'tcg' },
  );
  inspector = await inspect(sb, { port: 0 });
  inspector.recorder.messages$.subscribe((m) => {
    if (m.type === 'snapshot') seenSnapshots.push(m);
  });
  page = await browser.newPage({ viewport: { width: 1600, height: 1100 } });
  page.on('request', (r) => requested.push(r.url()));
  await page.goto(inspector.url);
}, 60_000);

afterAll(async () => {
  await stopAll();
  await inspector?.close();
  await browser?.close();
  rmSync(base, { recursive: true, force: true });
  rmSync(files, { recursive: true, force: true });
});

describe('the inspector page in Chromium, following a real sandbox', () => {
  it('lists the sandbox and highlights `running` in its chart once it started', async () => {
    await page.locator(`#actors li[data-actor="${sb.id}"]`).waitFor(WAIT);
    await sb.start();
    await state(page, 'active.run.running').and(page.locator('.active')).waitFor(WAIT);
    await page.locator('#phase[data-phase="running"]').waitFor(WAIT);
    // Parallel regions: the operation region's state is highlighted beside the run region's.
    expect(await state(page, 'active.operation.idle').getAttribute('class')).toContain('active');
    expect(await page.locator(`#actors li[data-actor="${sb.id}"]`).getAttribute('data-phase')).toBe(
      'running',
    );
  });

  it('highlights `paused` after sb.pause(), and `running` no longer', async () => {
    await sb.pause();
    await page.locator('#chart g.state.active[data-state="active.run.paused"]').waitFor(WAIT);
    expect(await state(page, 'active.run.running').getAttribute('class')).not.toContain('active');
    const timeline = await summaries(page);
    expect(timeline.indexOf('PAUSE')).toBeLessThan(timeline.indexOf('qmp.STOP'));
    expect(timeline).toContain('running → paused (requested)');
    await sb.resume();
    await page.locator('#chart g.state.active[data-state="active.run.running"]').waitFor(WAIT);
  });

  it("shows a hot plug's phases in the timeline in order, the disk in the device record, and the unplug's DEVICE_DELETED", async () => {
    // Two at once: the second waits in the operation queue (one operation at a time per sandbox).
    await Promise.all([
      sb.hotplug({ kind: 'block', id: 'd1', file: image('d1.img') }),
      sb.hotplug({ kind: 'block', id: 'd2', file: image('d2.img') }),
    ]);
    await page.locator('#timeline li[data-summary="hotplug d1 confirmed"]').waitFor(WAIT);
    await page.locator('#devices tr[data-device="d1"]').waitFor(WAIT);
    // Published in batches: once the page shows d1 confirmed, every earlier message went out too.
    const queued = seenSnapshots.some(
      (m) => m.type === 'snapshot' && JSON.stringify(m.context).includes('"operationQueue":[{'),
    );
    expect(queued).toBe(true);
    const timeline = await summaries(page);
    const at = (s: string) => timeline.indexOf(s);
    expect(at('hotplug d1 requested')).toBeGreaterThanOrEqual(0);
    expect(at('hotplug d1 requested')).toBeLessThan(at('hotplug d1 applied'));
    expect(at('hotplug d1 applied')).toBeLessThan(at('hotplug d1 confirmed'));
    expect(at('device plugged d1')).toBeGreaterThan(at('hotplug d1 applied'));
    expect(await page.locator('#devices tr[data-device="c0"] td').allTextContents()).toEqual(
      expect.arrayContaining(['c0', 'block', 'cold']),
    );
    // The README's screenshot: the sandbox running, its disks, the hot plug in the timeline.
    await page.screenshot({ path: SCREENSHOT });
    await sb.unplug('d1');
    await page.locator('#timeline li[data-summary="unplug d1 confirmed"]').waitFor(WAIT);
    const after = await summaries(page);
    expect(after.indexOf('unplug d1 requested')).toBeLessThan(after.indexOf('qmp.DEVICE_DELETED d1'));
    expect(after.indexOf('qmp.DEVICE_DELETED d1')).toBeLessThan(after.indexOf('unplug d1 confirmed'));
    await page.locator('#devices tr[data-device="d1"]').waitFor({ state: 'detached', ...WAIT });
  });

  it('shows a stopped sandbox with its stop reason, in the list and the detail', async () => {
    await sb.stop();
    await page.locator('#stop-reason', { hasText: 'stop reason: requested' }).waitFor(WAIT);
    await page.locator('#chart g.state.active[data-state="stopped"]').waitFor(WAIT);
    await page.locator('#timeline li[data-summary="stopping → stopped (requested)"]').waitFor(WAIT);
    expect(await page.locator(`#actors li[data-actor="${sb.id}"] .phase`).textContent()).toBe(
      'stopped (requested)',
    );
    const timeline = await summaries(page);
    expect(timeline.at(-1)).toBe('stopping → stopped (requested)');
    // The ladder's `quit` ended QEMU: its exit, as the shutdown reaped it.
    expect(timeline).toContain('xstate.done.actor.shutdown: qemu exited (code 0)');
  });

  it('gives a page opened after all this the current snapshot and the events, from the replay', async () => {
    const late = await browser.newPage();
    try {
      await late.goto(inspector.url);
      await late.locator('#stop-reason', { hasText: 'stop reason: requested' }).waitFor(WAIT);
      await late.locator('#chart g.state.active[data-state="stopped"]').waitFor(WAIT);
      const timeline = await summaries(late);
      const at = (s: string) => timeline.indexOf(s);
      expect(at('starting → running')).toBeGreaterThanOrEqual(0);
      expect(at('starting → running')).toBeLessThan(at('running → paused (requested)'));
      expect(at('hotplug d1 requested')).toBeLessThan(at('hotplug d1 applied'));
      expect(at('hotplug d1 applied')).toBeLessThan(at('hotplug d1 confirmed'));
      expect(at('hotplug d1 confirmed')).toBeLessThan(at('stopping → stopped (requested)'));
      expect(timeline).toEqual(await summaries(page));
    } finally {
      await late.close();
    }
  });

  it("shows a sandbox whose QEMU was killed as `crashed`, with QEMU's exit in the timeline", async () => {
    const other = await createTracked(
      { id: freshId('crash'), hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256 } },
      { runDir: base, logger: quietLogger, accelerator: 'tcg' },
    );
    const second = await inspect([other], { port: 0 });
    const p = await browser.newPage();
    try {
      await p.goto(second.url);
      await other.start();
      await p.locator('#chart g.state.active[data-state="active.run.running"]').waitFor(WAIT);
      const [qemuPid] = other.getPids();
      process.kill(qemuPid as number, 'SIGKILL');
      await p.locator('#stop-reason', { hasText: 'stop reason: crashed' }).waitFor(WAIT);
      await p
        .locator('#timeline li[data-kind="lifecycle"][data-summary="stopping → stopped (crashed)"]')
        .waitFor(WAIT);
      const timeline = await summaries(p);
      // QEMU's exit, as the machine saw it (process.exited) or the ladder reaped it (done shutdown).
      expect(
        timeline.some((s) => /qemu( exited)? \(signal SIGKILL\)/.test(s)),
        timeline.join('\n'),
      ).toBe(true);
    } finally {
      await p.close();
      await second.close();
    }
  });

  it('refuses every request without the token, with a wrong token or a foreign Host header (403), and the page fetched nothing from elsewhere', async () => {
    const root = new URL(inspector.url);
    const bare = `${root.origin}/`;
    expect(await statusOf(bare)).toBe(403);
    expect(await statusOf(`${root.origin}/events`)).toBe(403);
    expect(await statusOf(`${root.origin}/charts/sandbox.svg`)).toBe(403);
    expect(await statusOf(`${root.origin}/assets/inspector.js`)).toBe(403);
    expect(await statusOf(`${root.origin}/?token=${'x'.repeat(inspector.token.length)}`)).toBe(403);
    expect(await statusOf(inspector.url, 'attacker.example:80')).toBe(403);
    expect(await statusOf(inspector.url)).toBe(200);
    expect(root.hostname).toBe('127.0.0.1');
    expect(requested.length).toBeGreaterThan(0);
    for (const url of requested) expect(new URL(url).origin).toBe(root.origin);
  });
});
