// The controller under many sandboxes: event-loop delay (monitorEventLoopDelay) while N sandboxes
// start 8 at a time (createSandbox().start(), each paused once running so N guests do not boot
// on a shared host), controller RSS/heap per live sandbox, and the heap after all of them stopped,
// round after round; the raw client starting (and pausing) the same argv 8 at a time is the loop
// baseline.

import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createSandbox } from '../../src/sandbox/create.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { guest } from '../helpers/env.js';
import { freshId, quietLogger, stopAll, tracked } from '../integration/sandbox-fixtures.js';
import type { Benchmark, BenchRow } from './harness.js';
import { tmpfsRunBase } from './harness.js';
import { type RawVm, rawKill, rawLaunch, rawQuit } from './raw-client.js';

const CONCURRENCY = 8;
const MiB = 1024 * 1024;

/** Used heap outside V8's code spaces, MiB: the data a leak would hold. */
function dataHeapMiB(): number {
  let used = 0;
  for (const sp of getHeapSpaceStatistics())
    if (!sp.space_name.startsWith('code')) used += sp.space_used_size;
  return used / MiB;
}

/** A full GC (the flag is set at runtime; `gc` is taken from a fresh context). */
function gcNow(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Runs `fn(i)` for i < n with at most `CONCURRENCY` at once. */
async function eightAtATime(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** p99 and max of the loop delay (ms) while `fn` runs. */
async function loopDelayDuring(fn: () => Promise<void>): Promise<{ p99: number; max: number; mean: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  try {
    await fn();
  } finally {
    h.disable();
  }
  return { p99: h.percentile(99) / 1e6, max: h.max / 1e6, mean: h.mean / 1e6 };
}

/** An idle Node process measuring its own loop delay until its stdin ends; prints `{p99,max}` (ms). */
const BYSTANDER = `
const { monitorEventLoopDelay } = require('node:perf_hooks');
const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
process.stdin.resume();
process.stdin.on('end', () => {
  h.disable();
  process.stdout.write(JSON.stringify({ p99: h.percentile(99) / 1e6, max: h.max / 1e6 }));
});
process.stdout.write('ready\\n');
`;

/**
 * `fn` with an idle bystander Node process beside it: what the host's load alone does to an event
 * loop (a process doing nothing is descheduled by the N booting QEMUs as the controller is).
 */
async function withBystander<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; bystander: { p99: number; max: number } }> {
  const child = spawn(process.execPath, ['-e', BYSTANDER], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      if (out.startsWith('ready\n')) resolve();
    });
    child.once('error', reject);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await ready;
  try {
    const result = await fn();
    child.stdin.end();
    await exited;
    return { result, bystander: JSON.parse(out.slice('ready\n'.length)) as { p99: number; max: number } };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

const loopMemory: Benchmark = {
  name: 'e2e.loop-memory',
  deadlineMs: 3_600_000,
  async run(runs, { smoke }) {
    const g = guest('cloud');
    const n = smoke ? 16 : 100;
    // 10 rounds in the full run (`--runs=N` below 10 runs fewer).
    const rounds = smoke ? 2 : Math.min(runs, 10);
    const base = tmpfsRunBase();
    const config = (id: string) => ({
      id,
      hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256 },
    });
    const opts = { runDir: base, logger: quietLogger, accelerator: 'tcg' as const };
    const p99: number[] = [];
    const max: number[] = [];
    const rawP99: number[] = [];
    const rawMax: number[] = [];
    const idleP99: number[] = [];
    const idleRawP99: number[] = [];
    const rssPer: number[] = [];
    const heapPer: number[] = [];
    const rawRssPer: number[] = [];
    const heapAfter: number[] = [];
    /** The same without V8's code spaces (JIT code keeps growing for a while; it is not retained data). */
    const dataHeapAfter: number[] = [];
    try {
      // Warm-up (modules, JIT) and the argv the raw side replays.
      const probe = tracked(await createSandbox(config(freshId('warm')), opts));
      await probe.start();
      const planned = [...probe.plan.argv];
      const from = probe.runDir;
      await probe.stop();
      gcNow();
      const heapBefore = process.memoryUsage().heapUsed / MiB;
      for (let r = 0; r < rounds; r++) {
        // Raw side: the same argv, spawned and negotiated 8 at a time.
        gcNow();
        let before = process.memoryUsage();
        const vms: RawVm[] = [];
        const { result: rawLoop, bystander: rawIdle } = await withBystander(() =>
          loopDelayDuring(() =>
            eightAtATime(n, async () => {
              const dir = join(base, freshId('raw'));
              const vm = await rawLaunch(
                planned.map((a) => a.replaceAll(from, dir)),
                dir,
              );
              vms.push(vm);
              // Paused like vmactor's: N guests booting at once would swamp a shared host.
              await vm.qmp.cmd('stop');
            }),
          ),
        );
        idleRawP99.push(rawIdle.p99);
        gcNow();
        rawRssPer.push((process.memoryUsage().rss - before.rss) / MiB / n);
        rawP99.push(rawLoop.p99);
        rawMax.push(rawLoop.max);
        await eightAtATime(vms.length, async (i) => {
          const vm = vms[i];
          if (!vm) return;
          await rawQuit(vm);
          await rawKill(vm);
        });

        // vmactor: createSandbox + start, 8 at a time; each paused once running.
        gcNow();
        before = process.memoryUsage();
        const live: Sandbox[] = [];
        const { result: loop, bystander: idle } = await withBystander(() =>
          loopDelayDuring(() =>
            eightAtATime(n, async () => {
              const sb = tracked(await createSandbox(config(freshId('many')), opts));
              await sb.start();
              live.push(sb);
              await sb.pause();
            }),
          ),
        );
        idleP99.push(idle.p99);
        gcNow();
        const liveMem = process.memoryUsage();
        rssPer.push((liveMem.rss - before.rss) / MiB / n);
        heapPer.push((liveMem.heapUsed - before.heapUsed) / MiB / n);
        p99.push(loop.p99);
        max.push(loop.max);
        await eightAtATime(live.length, async (i) => {
          await live[i]?.stop();
        });
        live.length = 0;
        gcNow();
        heapAfter.push(process.memoryUsage().heapUsed / MiB);
        dataHeapAfter.push(dataHeapMiB());
      }
      const extra = { sandboxes: n, concurrency: CONCURRENCY, rounds, machine: 'shared 2-core host, TCG' };
      const r3 = (x: number): number => Number(x.toFixed(3));
      const rows: BenchRow[] = [
        {
          name: `e2e.loop-delay p99 (ms) while ${n} sandboxes start ${CONCURRENCY} at a time vs the raw client starting them`,
          samples: p99,
          baseline: rawP99,
          extra: { ...extra, unit: 'ms (per-round p99)', max_of_rounds_ms: r3(Math.max(...p99)) },
        },
        {
          name: `e2e.loop-delay p99 (ms) of an idle bystander Node process while vmactor starts the ${n} (baseline: while the raw client does)`,
          samples: idleP99,
          baseline: idleRawP99,
          extra: { ...extra, unit: 'ms (per-round p99 of a process doing nothing: the host load alone)' },
        },
        {
          name: `e2e.loop-delay max (ms) while ${n} sandboxes start`,
          samples: max,
          baseline: rawMax,
          extra: { ...extra, unit: 'ms (per-round max)' },
        },
        {
          name: `e2e.memory controller RSS (MiB) per live sandbox, ${n} live (raw client per raw VM as baseline)`,
          samples: rssPer,
          baseline: rawRssPer,
          extra: {
            ...extra,
            unit: 'MiB per sandbox',
            heap_per_sandbox_median_mib: r3(
              [...heapPer].sort((a, b) => a - b)[heapPer.length >> 1] ?? Number.NaN,
            ),
          },
        },
        {
          name: `e2e.heap (MiB) after all ${n} sandboxes stopped, per round (baseline: before the first round)`,
          samples: heapAfter,
          baseline: [heapBefore],
          extra: {
            ...extra,
            unit: 'MiB heapUsed after a full GC',
            first_round_mib: r3(heapAfter[0] ?? Number.NaN),
            last_round_mib: r3(heapAfter.at(-1) ?? Number.NaN),
            growth_first_to_last_mib: r3((heapAfter.at(-1) ?? Number.NaN) - (heapAfter[0] ?? Number.NaN)),
            data_heap_per_round_mib: dataHeapAfter.map(r3),
            data_growth_first_to_last_mib: r3(
              (dataHeapAfter.at(-1) ?? Number.NaN) - (dataHeapAfter[0] ?? Number.NaN),
            ),
          },
        },
      ];
      return { samples: [], baseline: [], rows };
    } finally {
      await stopAll();
      await rm(base, { recursive: true, force: true });
    }
  },
};

/** Loop delay and memory with many sandboxes (`npm run bench -- loop-memory`). */
export const benchmarks: Benchmark[] = [loopMemory];
