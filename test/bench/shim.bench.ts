// `ctr run --rm … /bin/true` through containerd with the vmactor shim vs runc (containerd's default
// runtime), in the same run, and vs the VM's own boot-to-agent-ready through ContainerVm (the shim's
// VM path without containerd), with the split of that time: VM start, agent ready, rootfs mount, process.
import { mkdtempSync, rmSync } from 'node:fs';
import { pino } from 'pino';
import { ContainerVm } from '../../src/shim/container-vm.js';
import { SHIM, startContainerd } from '../helpers/containerd.js';
import { guest } from '../helpers/env.js';
import type { Benchmark } from './harness.js';
import { median, nowMs } from './harness.js';

const r1 = (x: number) => Number(x.toFixed(1));

async function directBoot(rootfs: string, n: number) {
  const runBase = mkdtempSync('/tmp/vmbench-');
  const logger = pino({ level: 'silent' });
  const split = {
    vmStartMs: [] as number[],
    agentReadyMs: [] as number[],
    rootfsMountMs: [] as number[],
    processMs: [] as number[],
  };
  const totals: number[] = [];
  const toReady: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = nowMs();
      const vm = await ContainerVm.boot({
        sandboxId: `bench-${process.pid}-${i}`,
        rootfs,
        runBase,
        logger,
        accelerator: 'tcg',
      });
      const t1 = nowMs();
      const { exit } = await vm.run(
        'p0',
        { cwd: '/', uid: 0, gid: 0, env: ['PATH=/bin'], args: ['/bin/true'] },
        { stdout: '', stderr: '' },
      );
      await exit;
      const t2 = nowMs();
      await vm.stop();
      totals.push(nowMs() - t0);
      toReady.push(vm.timings.vmStartMs + vm.timings.agentReadyMs);
      split.vmStartMs.push(vm.timings.vmStartMs);
      split.agentReadyMs.push(vm.timings.agentReadyMs);
      split.rootfsMountMs.push(vm.timings.rootfsMountMs);
      split.processMs.push(t2 - t1);
    }
  } finally {
    rmSync(runBase, { recursive: true, force: true });
  }
  return { totals, toReady, split };
}

export const benchmarks: Benchmark[] = [
  {
    name: 'shim: ctr run --rm /bin/true (vmactor shim vs runc)',
    deadlineMs: 900_000,
    async run(runs, { smoke }) {
      guest('cloud');
      const n = smoke ? 1 : Math.min(runs, 5);
      const cd = await startContainerd(`bench${process.pid}`);
      try {
        const timeRun = async (id: string, runtime: string[]) => {
          const t0 = nowMs();
          const r = await cd.ctr(['run', '--rm', ...runtime, '--rootfs', cd.rootfs, id, '/bin/true']);
          const ms = nowMs() - t0;
          if (r.exitCode !== 0) throw new Error(`ctr run ${id} failed (${r.exitCode}): ${r.stderr}`);
          return ms;
        };
        // Untimed warm-up of each side: the first shim on a host probes the accelerator once (its
        // verdict is kept in the shim base, see src/shim/accelerator.ts); both sides warm the page cache.
        await timeRun('warm-runc', []);
        await timeRun('warm-vm', ['--runtime', SHIM]);
        const shim: number[] = [];
        const runc: number[] = [];
        for (let i = 0; i < n; i++) {
          runc.push(await timeRun(`runc${i}`, []));
          shim.push(await timeRun(`vm${i}`, ['--runtime', SHIM]));
        }
        const direct = await directBoot(cd.rootfs, n);
        const splitMedians = Object.fromEntries(
          Object.entries(direct.split).map(([k, v]) => [k, r1(median(v))]),
        );
        return {
          samples: shim,
          baseline: runc,
          rows: [
            { name: 'shim: ctr run --rm /bin/true, vmactor shim vs runc', samples: shim, baseline: runc },
            {
              name: 'shim: ctr run --rm /bin/true vs the VM boot-to-agent-ready',
              samples: shim,
              baseline: direct.toReady,
              extra: {
                vm_direct_total_median_ms: r1(median(direct.totals)),
                split_median_ms: splitMedians,
              },
            },
          ],
        };
      } finally {
        await cd.stop();
      }
    },
  },
];
