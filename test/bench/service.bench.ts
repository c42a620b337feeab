// The service's API cost, in the same run: GET /sandboxes/{id} over the Unix socket vs a bare node:http
// server on a Unix socket (the physical limit), pause/resume through the API vs sb.pause() in-process, and
// the daemon's RSS with N sandboxes vs the empty daemon.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { join } from 'node:path';
import { buildApp } from '../../src/server/app.js';
import { openSupervisor } from '../../src/supervisor/supervisor.js';
import { guest } from '../helpers/env.js';
import { freshId, quietLogger, tempRunBase } from '../integration/sandbox-fixtures.js';
import {
  http,
  removeTempSockets,
  startDaemon,
  stopDaemons,
  tempSocket,
} from '../integration/service-fixtures.js';
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
  // On tmpfs, as the default run base /run/vmactor is: state.json is fsync'd on every phase change.
  const base = mkdtempSync('/dev/shm/vmactor-bench-run-');
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

/** A bare node:http server answering the same JSON on a Unix socket (after `work`, when given). */
async function bareServer(payload: string, work?: () => Promise<void>) {
  const dir = mkdtempSync('/tmp/vmactor-bench-');
  const socket = join(dir, 'bare.sock');
  const server = createServer((_req, res) => {
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(payload);
    };
    if (work) void work().then(answer);
    else answer();
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
    name: 'service: pause through the API vs sb.pause() in-process (same sandbox, guest booted)',
    async run(runs) {
      const svc = await service();
      const sb = svc.sup.get(svc.id);
      // The guest idle at its ready line: a booting guest's TCG vCPU competes with the loop for the CPU.
      await (await sb.agent()).waitReady({ timeout: 120_000 });
      const summary = JSON.stringify(svc.sup.summary(svc.id));
      // The floor: the same pause behind a bare node:http server (the HTTP round trip alone, no Fastify).
      const bare = await bareServer(summary, () => sb.pause());
      const api: number[] = [];
      const inProcess: number[] = [];
      const bareHttp: number[] = [];
      try {
        for (let i = 0; i < Math.max(runs, 10) * 3; i++) {
          let t = nowMs();
          await get(svc.agent, svc.socket, 'POST', `/sandboxes/${svc.id}/pause`);
          api.push(nowMs() - t);
          await sb.resume();
          t = nowMs();
          await sb.pause();
          inProcess.push(nowMs() - t);
          await sb.resume();
          t = nowMs();
          await get(bare.agent, bare.socket, 'POST', '/');
          bareHttp.push(nowMs() - t);
          await sb.resume();
        }
      } finally {
        await bare.close();
        await svc.close();
      }
      return {
        samples: api,
        baseline: inProcess,
        rows: [
          {
            name: 'service: pause through the API vs sb.pause() in-process (same sandbox, guest booted)',
            samples: api,
            baseline: inProcess,
            extra: { goal_delta_ms: 0.5, bare_http_pause_median_ms: Number(median(bareHttp).toFixed(4)) },
          },
          {
            name: 'service: pause behind a bare node:http server vs sb.pause() (the HTTP round trip alone)',
            samples: bareHttp,
            baseline: inProcess,
          },
        ],
      };
    },
  },
];

/** The daemon's resident set, KiB (/proc/PID/status `VmRSS`). */
function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** The daemon's V8 heap in use, KiB (prom-client's process metrics on /metrics). */
async function heapKiB(socket: string): Promise<number> {
  const text = (await http(socket, 'GET', '/metrics')).body;
  const m = /^vmactor_nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)$/m.exec(text);
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}

/** Runs `fn` over `items`, `width` at a time. */
async function pool<T>(items: readonly T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

/** Creates, starts and pauses sandbox `id` through the API (a paused guest costs no CPU while the rest start). */
async function upPaused(socket: string, id: string): Promise<void> {
  const body = JSON.stringify({ id, hypervisor: { memorySize: 256 } });
  for (const [method, path, b] of [
    ['POST', '/sandboxes', body],
    ['POST', `/sandboxes/${id}/start`, undefined],
    ['POST', `/sandboxes/${id}/pause`, undefined],
  ] as const) {
    const r = await http(socket, method, path, b);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
  }
}

benchmarks.push({
  name: 'service: daemon RSS with N sandboxes (created, started, paused through the API) vs the empty daemon',
  deadlineMs: 900_000,
  async run(_runs, { smoke }) {
    const n = smoke ? 3 : Number(process.env.VMACTOR_BENCH_RSS_SANDBOXES ?? 100);
    guest('cloud');
    const base = tempRunBase();
    const socket = tempSocket();
    const d = await startDaemon(base, socket, [
      '--stop-on-exit',
      '--memory-budget',
      String(256 * (n + 2)),
      '--max-sandboxes',
      String(n + 2),
    ]);
    try {
      // Warm-up: one sandbox through its whole life, so code paths and pools are in the empty figure.
      const warm = freshId('rsswarm');
      await upPaused(socket, warm);
      await http(socket, 'DELETE', `/sandboxes/${warm}`);
      const emptyRss = rssKiB(d.pid);
      const emptyHeap = await heapKiB(socket);
      const ids = Array.from({ length: n }, () => freshId('rss'));
      const t = nowMs();
      await pool(ids, 4, (id) => upPaused(socket, id));
      const upMs = nowMs() - t;
      const fullRss = rssKiB(d.pid);
      const fullHeap = await heapKiB(socket);
      await pool(ids, 8, async (id) => {
        await http(socket, 'DELETE', `/sandboxes/${id}`);
      });
      const afterRss = rssKiB(d.pid);
      const perSandbox = (fullRss - emptyRss) / n;
      return {
        samples: [fullRss / 1024],
        baseline: [emptyRss / 1024],
        extra: {
          unit: 'MiB of daemon RSS (median_ms/baseline_median_ms columns hold MiB)',
          sandboxes: n,
          per_sandbox_rss_kib: Math.round(perSandbox),
          per_sandbox_heap_kib: Math.round((fullHeap - emptyHeap) / n),
          goal_per_sandbox_kib: 1024,
          rss_after_removing_all_mib: Number((afterRss / 1024).toFixed(1)),
          up_paused_all_ms: Math.round(upMs),
        },
      };
    } finally {
      d.child.kill('SIGTERM');
      await d.exited;
      await stopDaemons();
      rmSync(base, { recursive: true, force: true });
      removeTempSockets();
    }
  },
});
