// The service's API cost, in the same run: GET /sandboxes/{id} over the Unix socket vs a bare node:http
// server on a Unix socket (the physical limit), and pause/resume through the API vs sb.pause() in-process.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { join } from 'node:path';
import { buildApp } from '../../src/server/app.js';
import { openSupervisor } from '../../src/supervisor/supervisor.js';
import { guest } from '../helpers/env.js';
import { freshId, quietLogger, tempRunBase } from '../integration/sandbox-fixtures.js';
import type { Benchmark } from './harness.js';
import { median, nowMs } from './harness.js';

/** One request over a keep-alive agent; resolves with the body. */
function get(agent: Agent, socketPath: string, method: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, socketPath, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.once('end', () => resolve(body));
    });
    req.once('error', reject);
    req.end();
  });
}

/** A supervisor with one running sandbox (default guest) behind the API on a temp socket. */
async function service() {
  const g = guest('cloud');
  const base = tempRunBase();
  const dir = mkdtempSync('/tmp/vmactor-bench-');
  const socket = join(dir, 'api.sock');
  const sup = await openSupervisor({
    runBase: base,
    logger: quietLogger,
    sandboxOptions: { accelerator: 'tcg' },
  });
  const { app } = await buildApp(sup);
  await app.listen({ path: socket });
  const id = freshId('bench');
  await sup.create({ id, hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256 } });
  await sup.start(id);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    sup,
    id,
    socket,
    agent,
    close: async () => {
      agent.destroy();
      await app.close();
      await sup.close({ stopSandboxes: true });
      rmSync(base, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A bare node:http server answering the same JSON on a Unix socket. */
async function bareServer(payload: string) {
  const dir = mkdtempSync('/tmp/vmactor-bench-');
  const socket = join(dir, 'bare.sock');
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(payload);
  });
  await new Promise<void>((r) => server.listen(socket, r));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    socket,
    agent,
    close: async () => {
      agent.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const benchmarks: Benchmark[] = [
  {
    name: 'service: GET /sandboxes/{id} over the Unix socket vs a bare node:http server (same JSON)',
    async run(runs) {
      const svc = await service();
      const path = `/sandboxes/${svc.id}`;
      const payload = await get(svc.agent, svc.socket, 'GET', path);
      const bare = await bareServer(payload);
      const samples: number[] = [];
      const baseline: number[] = [];
      const inProcess: number[] = [];
      try {
        for (let i = 0; i < Math.max(runs, 10) * 10; i++) {
          let t = nowMs();
          await get(svc.agent, svc.socket, 'GET', path);
          samples.push(nowMs() - t);
          t = nowMs();
          await get(bare.agent, bare.socket, 'GET', '/');
          baseline.push(nowMs() - t);
          t = nowMs();
          svc.sup.summary(svc.id);
          inProcess.push(nowMs() - t);
        }
      } finally {
        await bare.close();
        await svc.close();
      }
      return { samples, baseline, extra: { in_process_summary_median_ms: median(inProcess) } };
    },
  },
  {
    name: 'service: pause + resume through the API vs sb.pause()/sb.resume() in-process (same sandbox)',
    async run(runs) {
      const svc = await service();
      const sb = svc.sup.get(svc.id);
      const samples: number[] = [];
      const baseline: number[] = [];
      try {
        for (let i = 0; i < runs; i++) {
          let t = nowMs();
          await get(svc.agent, svc.socket, 'POST', `/sandboxes/${svc.id}/pause`);
          await get(svc.agent, svc.socket, 'POST', `/sandboxes/${svc.id}/resume`);
          samples.push(nowMs() - t);
          t = nowMs();
          await sb.pause();
          await sb.resume();
          baseline.push(nowMs() - t);
        }
      } finally {
        await svc.close();
      }
      return { samples, baseline };
    },
  },
];
