// VM templates: clone boot → guest agent ready vs cold boot → agent ready (same config, same run),
// and total PSS of 5 clones vs 5 cold-booted VMs (from /proc/PID/smaps_rollup).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { SandboxConfig } from '../../src/config/types.js';
import { createVmFactory } from '../../src/factory/factory.js';
import { createSandbox } from '../../src/sandbox/create.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import type { Template } from '../../src/sandbox/template/template-file.js';
import { guest } from '../helpers/env.js';
import { freshId, quietLogger, stopAll, tempRunBase, tracked } from '../integration/sandbox-fixtures.js';
import type { Benchmark } from './harness.js';
import { median, nowMs } from './harness.js';

const g = guest('cloud');
const hv = { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256, defaultMaxVCPUs: 2 } as const;

function cfg(id: string, extra: SandboxConfig['hypervisor'] = {}): SandboxConfig {
  return { id, hypervisor: { ...hv, ...extra } };
}

/** Boots a template VM to its agent and saves it. */
export async function benchTemplate(base: string, shm: string): Promise<Template> {
  const tpl = tracked(
    await createSandbox(cfg(freshId('tpl'), { bootToBeTemplate: true }), {
      runDir: base,
      logger: quietLogger,
      accelerator: 'tcg',
      templateDir: shm,
    }),
  );
  await tpl.start();
  await (await tpl.agent()).waitReady({ timeout: 60_000 });
  return tpl.saveTemplate(shm);
}

/** createSandbox → start → the guest agent answers (the public calls, until their promises resolve). */
async function bootToAgent(base: string, template: Template | undefined): Promise<Sandbox> {
  const sb = tracked(
    await createSandbox(cfg(freshId(template ? 'clone' : 'cold')), {
      runDir: base,
      logger: quietLogger,
      accelerator: 'tcg',
      ...(template ? { template } : {}),
    }),
  );
  await sb.start();
  await (await sb.agent()).waitReady({ timeout: 60_000 });
  return sb;
}

/** Proportional set size of a process in KiB (`Pss:` of /proc/PID/smaps_rollup). */
function pssKiB(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

function totalPssMiB(sbs: readonly Sandbox[]): number {
  return sbs.reduce((sum, sb) => sum + pssKiB(sb.getPids()[0] ?? 0), 0) / 1024;
}

const cloneVsCold: Benchmark = {
  name: 'template clone boot→agent ready vs cold boot→agent ready (same config)',
  async run(runs) {
    const base = tempRunBase();
    const shm = mkdtempSync('/dev/shm/vmactor-bench-tpl-');
    const samples: number[] = [];
    const baseline: number[] = [];
    try {
      const template = await benchTemplate(base, shm);
      const once = async (t: Template | undefined, into: number[]) => {
        const start = nowMs();
        const sb = await bootToAgent(base, t);
        into.push(nowMs() - start);
        await sb.stop();
      };
      for (let i = 0; i < runs; i++) {
        if (i % 2 === 0) {
          await once(template, samples);
          await once(undefined, baseline);
        } else {
          await once(undefined, baseline);
          await once(template, samples);
        }
      }
      return {
        samples,
        baseline,
        extra: { speedup: Number((median(baseline) / median(samples)).toFixed(2)) },
      };
    } finally {
      await stopAll();
      rmSync(base, { recursive: true, force: true });
      rmSync(shm, { recursive: true, force: true });
    }
  },
};

const pss: Benchmark = {
  name: 'template memory: total PSS (MiB, not ms) of 5 clones vs 5 cold-booted VMs',
  async run() {
    const base = tempRunBase();
    const shm = mkdtempSync('/dev/shm/vmactor-bench-tpl-');
    try {
      const template = await benchTemplate(base, shm);
      const clones: Sandbox[] = [];
      for (let i = 0; i < 5; i++) clones.push(await bootToAgent(base, template));
      const clonePss = totalPssMiB(clones);
      await Promise.all(clones.map((c) => c.stop()));
      const cold: Sandbox[] = [];
      for (let i = 0; i < 5; i++) cold.push(await bootToAgent(base, undefined));
      const coldPss = totalPssMiB(cold);
      await Promise.all(cold.map((c) => c.stop()));
      return {
        samples: [clonePss],
        baseline: [coldPss],
        extra: { unit: 'MiB', saving_percent: Number((100 * (1 - clonePss / coldPss)).toFixed(1)) },
      };
    } finally {
      await stopAll();
      rmSync(base, { recursive: true, force: true });
      rmSync(shm, { recursive: true, force: true });
    }
  },
};

const factoryGet: Benchmark = {
  name: 'factory.get() from a warm cache → running (template base) vs clone createSandbox().start() → running',
  async run(runs) {
    const base = tempRunBase();
    const shm = mkdtempSync('/dev/shm/vmactor-bench-tpl-');
    const samples: number[] = [];
    const baseline: number[] = [];
    const sandbox = { runDir: base, logger: quietLogger, accelerator: 'tcg' as const, guestAgent: true };
    try {
      const template = await benchTemplate(base, shm);
      const factory = createVmFactory({
        base: 'template',
        template,
        config: cfg(freshId('fac')),
        cacheSize: 1,
        sandbox,
      });
      try {
        for (let i = 0; i < runs; i++) {
          await factory.filled();
          const t = nowMs();
          const sb = tracked(await factory.get({ id: `job-${i}` }));
          samples.push(nowMs() - t);
          await sb.stop();
          const t2 = nowMs();
          const clone = tracked(await createSandbox(cfg(freshId('clone')), { ...sandbox, template }));
          await clone.start();
          baseline.push(nowMs() - t2);
          await clone.stop();
        }
      } finally {
        await factory.close();
      }
      return { samples, baseline };
    } finally {
      await stopAll();
      rmSync(base, { recursive: true, force: true });
      rmSync(shm, { recursive: true, force: true });
    }
  },
};

export const benchmarks: Benchmark[] = [cloneVsCold, pss, factoryGet];
