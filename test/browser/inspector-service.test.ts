// The inspector of the service (`vmactor serve --inspect`, `vmactor inspect`) and of a VM factory,
// against real daemons, real QEMU and real Chromium; bad arguments refused before anything opens.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createVmFactory } from '../../src/factory/factory.js';
import { InspectOptionsError, InspectTargetError, inspect } from '../../src/inspect/index.js';
import { launchChromium } from '../helpers/chromium.js';
import { guest } from '../helpers/env.js';
import { freshId, quietLogger, stopAll, tempRunBase } from '../integration/sandbox-fixtures.js';
import {
  cli,
  http,
  removeTempSockets,
  startDaemon,
  stopDaemons,
  tempSocket,
} from '../integration/service-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
afterAll(async () => {
  await stopDaemons();
  await stopAll();
  rmSync(base, { recursive: true, force: true });
  removeTempSockets();
});

const URL_RE = /http:\/\/127\.0\.0\.1:(\d+)\/\?token=[A-Za-z0-9_-]{32}/;

describe('the service inspector', () => {
  it('serve --inspect prints a tokened URL; vmactor inspect prints the same; the page lists the supervisor and a started sandbox as running', async () => {
    const socket = tempSocket();
    const d = await startDaemon(base, socket, ['--stop-on-exit', '--inspect']);
    const printed = URL_RE.exec(d.out())?.[0];
    expect(printed, d.out()).toBeDefined();
    const again = await cli(['inspect', '--socket', socket]);
    expect(again).toEqual({ code: 0, out: `${printed}\n`, err: '' });
    const json = await cli(['inspect', '--socket', socket, '--json', '--port', '0']);
    expect(JSON.parse(json.out)).toEqual({ url: printed, port: Number(URL_RE.exec(printed!)?.[1]) });

    const id = freshId('isvc');
    const cfg = join(base, `${id}.json`);
    writeFileSync(cfg, JSON.stringify({ id, hypervisor: { memorySize: 256 } }));
    const created = await cli(['create', '--config', cfg, '--start', '--socket', socket, '--json']);
    expect(created.code, created.err).toBe(0);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(printed!);
      await page
        .locator('#actors li[data-actor="supervisor"][data-phase="serving"]')
        .waitFor({ timeout: 30_000 });
      await page.locator(`#actors li[data-actor="${id}"][data-phase="running"]`).waitFor({ timeout: 30_000 });
      await page.locator(`#actors li[data-actor="supervisor"]`).click();
      await page.locator('#chart[data-loaded="supervisor"] g.state.active[data-state="serving"]').waitFor({
        timeout: 30_000,
      });
      const bare = new URL(printed!);
      bare.search = '';
      expect((await fetch(bare)).status).toBe(403);
    } finally {
      await browser.close();
    }
  });

  it('vmactor inspect opens the inspector of a service started without --inspect, and GET /inspector answers it', async () => {
    const socket = tempSocket();
    await startDaemon(base, socket, ['--stop-on-exit']);
    expect((await http(socket, 'GET', '/inspector')).status).toBe(404);
    const r = await cli(['inspect', '--socket', socket]);
    expect(r.code, r.err).toBe(0);
    const url = URL_RE.exec(r.out)?.[0];
    expect(url, r.out).toBeDefined();
    expect((await http(socket, 'GET', '/inspector')).json()).toMatchObject({ url });
    expect((await fetch(url!)).status).toBe(200);
  });

  it('serve --inspect PORT on a taken port still serves (no inspector yet); vmactor inspect then opens one elsewhere', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const socket = tempSocket();
      const d = await startDaemon(base, socket, ['--stop-on-exit', '--inspect', String(port)]);
      expect(d.out()).not.toContain('inspector at');
      expect((await http(socket, 'GET', '/inspector')).status).toBe(404);
      const r = await cli(['inspect', '--socket', socket, '--json']);
      expect(r.code, r.err).toBe(0);
      const opened = JSON.parse(r.out) as { url: string; port: number };
      expect(opened.port).not.toBe(port);
      expect((await fetch(opened.url)).status).toBe(200);
    } finally {
      taken.close();
    }
  });

  it('refuses a bad port with a usage error (exit 2) before anything opens', async () => {
    const r = await cli(['inspect', '--port', '70000', '--socket', tempSocket()]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Expected `--port` to be a port from 0 to 65535, got `70000`');
    const s = await cli(['serve', '--socket', tempSocket(), '--inspect', 'abc']);
    expect(s.code).toBe(2);
    expect(s.err).toContain('Expected `--inspect` to be a port from 0 to 65535, got `abc`');
  });
});

describe('inspect() in the library', () => {
  it('watches a VM factory: its own chart and every VM it starts', async () => {
    const poolId = freshId('ifac');
    const factory = createVmFactory({
      base: 'direct',
      config: {
        id: poolId,
        hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256 },
      },
      cacheSize: 1,
      sandbox: { runDir: base, logger: quietLogger, accelerator: 'tcg' },
    });
    const inspector = await inspect(factory, { name: 'pool' });
    try {
      await factory.filled();
      // The VM's `running` step happened before `filled()` resolved; snapshots() takes the pending batch too.
      const snaps = inspector.recorder.snapshots();
      expect(snaps.find((s) => s.actorId === 'factory:pool')?.machine).toBe('factory');
      expect(factory.status().map((p) => p.pid)).toHaveLength(1);
      // The factory names its VMs `<config id>-<key>`.
      const vms = snaps.filter((s) => s.machine === 'sandbox');
      expect(vms.map((s) => [s.actorId.startsWith(`${poolId}-`), s.phase])).toEqual([[true, 'running']]);
      const res = await fetch(inspector.url.replace('/?', '/charts/factory.svg?'));
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('data-machine="factory"');
    } finally {
      await factory.close();
      await inspector.close();
    }
  });

  it('resumes an SSE client from Last-Event-ID: the hello, then only the messages after that id', async () => {
    const inspector = await inspect([], { port: 0 });
    try {
      const rec = inspector.recorder;
      const describe = () => ({ kind: 'command' as const, summary: 'E' });
      for (let i = 0; i < 4; i++) rec.enqueue('x', 'sandbox', { t: 'event', event: { type: 'E' }, describe });
      rec.flush();
      const events = inspector.url.replace('/?', '/events?');
      const res = await fetch(events, { headers: { 'last-event-id': '2' } });
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('id: 4\n')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      await reader.cancel();
      expect(text.startsWith('event: hello\n')).toBe(true);
      expect([...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([3, 4]);
    } finally {
      await inspector.close();
    }
  });

  it('importing vmactor loads no web framework; inspect() loads Fastify when called', async () => {
    const dist = fileURLToPath(new URL('../../dist/src/index.js', import.meta.url));
    const script = `
      const { createRequire } = await import('node:module');
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/fastify/'));
      const vmactor = await import(${JSON.stringify(dist)});
      const before = loaded();
      const i = await vmactor.inspect([], { port: 0 });
      const after = loaded();
      await i.close();
      console.log(JSON.stringify({ before, after }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ before: false, after: true });
  });

  it('refuses a bad port, option or target with a typed error, opening nothing', async () => {
    await expect(inspect([], { port: 70_000 })).rejects.toBeInstanceOf(InspectOptionsError);
    await expect(inspect([], { batchMs: 0 })).rejects.toThrow(/`batchMs`/);
    await expect(inspect([], { replayPerActor: 1.5 })).rejects.toThrow(/`replayPerActor`/);
    await expect(inspect({} as never)).rejects.toBeInstanceOf(InspectTargetError);
  });
});
