// `ctr run --rm … /bin/true` through containerd with the vmactor shim vs runc (containerd's default
// runtime), interleaved in the same run, and vs the VM's own boot-to-agent-ready through ContainerVm
// (the shim's VM path without containerd); the shim's time is split from its trace
// (VMACTOR_SHIM_TRACE): when `start` launches the VM, serving shim up, VM start, agent ready,
// rootfs mount, process, teardown.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { ContainerVm } from '../../src/shim/container-vm.js';
import type { TraceLine } from '../../src/shim/trace.js';
import { SHIM, startContainerd, type TestContainerd } from '../helpers/containerd.js';
import { guest } from '../helpers/env.js';
import type { Benchmark } from './harness.js';
import { median, nowMs } from './harness.js';

const r1 = (x: number) => Number(x.toFixed(1));
type Split = Record<string, number[]>;

function push(split: Split, key: string, v: number): void {
  split[key] = [...(split[key] ?? []), v];
}

/** The VM path alone: boot to a mounted rootfs, run /bin/true, stop. */
async function direct(rootfs: string, runBase: string, i: number, split: Split) {
  const t0 = nowMs();
  const vm = await ContainerVm.boot({
    sandboxId: `bench-${process.pid}-${i}`,
    rootfs,
    runBase,
    logger: pino({ level: 'silent' }),
    accelerator: 'tcg',
  });
  const spec = { cwd: '/', uid: 0, gid: 0, env: ['PATH=/bin'], args: ['/bin/true'] };
  await (await vm.run('p0', spec, { stdout: '', stderr: '' })).exit;
  await vm.stop();
  push(split, 'total', nowMs() - t0);
  return vm.timings.vmStartMs + vm.timings.agentReadyMs;
}

/** One shim run, timed by wall clock; its split from the trace lines written during it. */
async function shimRun(cd: TestContainerd, traceFile: string, id: string, split: Split): Promise<number> {
  const since = performance.timeOrigin + performance.now();
  const t0 = nowMs();
  const r = await cd.ctr(['run', '--rm', '--runtime', SHIM, '--rootfs', cd.rootfs, id, '/bin/true']);
  const ms = nowMs() - t0;
  if (r.exitCode !== 0) throw new Error(`ctr run ${id} failed (${r.exitCode}): ${r.stderr}`);
  const end = since + ms;
  const lines = readFileSync(traceFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TraceLine)
    .filter((l) => l.t >= since);
  const at = (pred: (l: TraceLine) => boolean) => lines.find(pred)?.t ?? Number.NaN;
  const vm = lines.find((l) => l.step === 'vm-ready');
  push(split, 'vmLaunchAtMs', at((l) => l.step === 'vm-launch') - since);
  push(split, 'shimUpMs', at((l) => l.step === 'listening') - since);
  push(split, 'vmStartMs', Number(vm?.vmStartMs));
  push(split, 'agentReadyMs', Number(vm?.agentReadyMs));
  push(split, 'rootfsMountMs', Number(vm?.rootfsMountMs));
  const waited = at((l) => l.step === 'reply' && l.method === 'Wait');
  push(split, 'processMs', waited - at((l) => l.step === 'call' && l.method === 'Start'));
  push(split, 'teardownMs', end - waited);
  return ms;
}

const medians = (split: Split) =>
  Object.fromEntries(Object.entries(split).map(([k, v]) => [k, r1(median(v))]));

export const benchmarks: Benchmark[] = [
  {
    name: 'shim: ctr run --rm /bin/true (vmactor shim vs runc)',
    deadlineMs: 900_000,
    async run(runs, { smoke }) {
      guest('cloud');
      const n = smoke ? 1 : Math.min(runs, 10);
      const work = mkdtempSync('/tmp/vmbench-');
      const traceFile = join(work, 'trace.jsonl');
      mkdirSync(join(work, 'vm'), { mode: 0o700 });
      const cd = await startContainerd(`bench${process.pid}`, { VMACTOR_SHIM_TRACE: traceFile });
      try {
        const runc = async (id: string) => {
          const t0 = nowMs();
          const r = await cd.ctr(['run', '--rm', '--rootfs', cd.rootfs, id, '/bin/true']);
          if (r.exitCode !== 0) throw new Error(`ctr run ${id} (runc) failed: ${r.stderr}`);
          return nowMs() - t0;
        };
        // Untimed warm-up of each side: the first shim on a host probes the accelerator once (its
        // verdict is kept in the shim base, see src/shim/accelerator.ts); both warm the page cache.
        await runc('warm-runc');
        await shimRun(cd, traceFile, 'warm-vm', {});
        const shim: number[] = [];
        const runcs: number[] = [];
        const toReady: number[] = [];
        const shimSplit: Split = {};
        const directSplit: Split = {};
        for (let i = 0; i < n; i++) {
          runcs.push(await runc(`runc${i}`));
          shim.push(await shimRun(cd, traceFile, `vm${i}`, shimSplit));
          toReady.push(await direct(cd.rootfs, join(work, 'vm'), i, directSplit));
        }
        return {
          samples: shim,
          baseline: runcs,
          rows: [
            { name: 'shim: ctr run --rm /bin/true, vmactor shim vs runc', samples: shim, baseline: runcs },
            {
              name: 'shim: ctr run --rm /bin/true vs the VM boot-to-agent-ready',
              samples: shim,
              baseline: toReady,
              extra: {
                shim_split_median_ms: medians(shimSplit),
                vm_direct_total_median_ms: medians(directSplit).total,
              },
            },
          ],
        };
      } finally {
        await cd.stop();
        rmSync(work, { recursive: true, force: true });
      }
    },
  },
];
