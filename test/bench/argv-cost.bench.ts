// What each default device of the Kata-style plan costs at launch: QEMU spawn → greeting →
// qmp_capabilities (the raw client, raw-client.ts) with createSandbox's default argv against the
// same argv with one device (and its chardev/backend) removed, all variants interleaved.
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createSandbox } from '../../src/sandbox/create.js';
import { guest } from '../helpers/env.js';
import { freshId, quietLogger } from '../integration/sandbox-fixtures.js';
import type { Benchmark, BenchRow } from './harness.js';
import { median, nowMs, tmpfsRunBase } from './harness.js';
import { rawKill, rawLaunch, rawQuit } from './raw-client.js';

/** An option and its value (`-device '{…}'`, `-chardev socket,id=…`, `-mon chardev=…`). */
type OptionMatch = (flag: string, value: string) => boolean;

const deviceId =
  (id: string): OptionMatch =>
  (f, v) =>
    f === '-device' && v.includes(`"id":"${id}"`);
const chardevId =
  (id: string): OptionMatch =>
  (f, v) =>
    (f === '-chardev' && v.includes(`id=${id},`)) || (f === '-mon' && v.startsWith(`chardev=${id},`));
const objectId =
  (id: string): OptionMatch =>
  (f, v) =>
    f === '-object' && v.includes(`"id":"${id}"`);

/** Each default device of the plan, as the options that make it. */
const VARIANTS: Record<string, readonly OptionMatch[]> = {
  'virtio-serial + console + agent channel': [
    deviceId('serial0'),
    deviceId('console0'),
    chardevId('charconsole0'),
    deviceId('channel0'),
    chardevId('charch0'),
  ],
  console: [deviceId('console0'), chardevId('charconsole0')],
  'agent channel': [deviceId('channel0'), chardevId('charch0')],
  rng: [deviceId('rng0'), objectId('rng0')],
  'pci bridge': [deviceId('pci-bridge-0')],
  'second monitor (qmp.sock)': [chardevId('qmp-path')],
  'virtio-scsi controller': [deviceId('scsi0')],
};

/** `argv` without the options any of `matches` names. */
export function withoutOptions(argv: readonly string[], matches: readonly OptionMatch[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (flag.startsWith('-') && value !== undefined && matches.some((m) => m(flag, value))) {
      i++;
      continue;
    }
    out.push(flag);
  }
  return out;
}

/**
 * CPU time of QEMU's main thread so far (ms, /proc/<pid>/schedstat): the thread that builds the
 * machine and realizes the devices; the vCPU thread (already running the guest) is left out.
 */
function cpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

const argvCost: Benchmark = {
  name: 'e2e.argv-cost',
  deadlineMs: 1_800_000,
  async run(runs, { smoke }) {
    const g = guest('cloud');
    const base = tmpfsRunBase();
    const probe = await createSandbox(
      { id: freshId('argv'), hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 512 } },
      { runDir: base, logger: quietLogger, accelerator: 'tcg' },
    );
    const planned = [...probe.plan.argv];
    const from = probe.runDir;
    await probe.stop();
    const names = ['default', ...Object.keys(VARIANTS), 'all of them'];
    const argvOf = (name: string): string[] => {
      if (name === 'default') return planned;
      if (name === 'all of them') return withoutOptions(planned, Object.values(VARIANTS).flat());
      return withoutOptions(planned, VARIANTS[name] ?? []);
    };
    const samples = new Map<string, number[]>(names.map((n) => [n, []]));
    const cpu = new Map<string, number[]>(names.map((n) => [n, []]));
    const n = smoke ? 1 : runs;
    try {
      // One unrecorded pass first; then every variant once per pass, order rotated per pass.
      for (let pass = 0; pass <= n; pass++) {
        for (let k = 0; k < names.length; k++) {
          const name = names[(k + pass) % names.length]!;
          const dir = join(base, freshId('v'));
          const argv = argvOf(name).map((a) => a.replaceAll(from, dir));
          const t = nowMs();
          const vm = await rawLaunch(argv, dir);
          const ms = nowMs() - t;
          const used = cpuMs(vm.child.pid ?? 0);
          await rawQuit(vm);
          await rawKill(vm);
          if (pass > 0) {
            samples.get(name)?.push(ms);
            cpu.get(name)?.push(used);
          }
        }
      }
    } finally {
      await rm(base, { recursive: true, force: true });
    }
    const full = samples.get('default') ?? [];
    const fullCpu = cpu.get('default') ?? [];
    const r3 = (x: number): number => Number(x.toFixed(3));
    // Each row: the default argv (samples) against the argv without that device (baseline):
    // `delta_ms` is what the device costs at launch.
    const rows: BenchRow[] = names
      .filter((name) => name !== 'default')
      .map((name) => ({
        name: `e2e.argv-cost launch→QMP ready, default argv vs without ${name}`,
        samples: full,
        baseline: samples.get(name) ?? [],
        extra: {
          removed: name,
          // Per pass, default minus this variant (both in the same pass): less noise than medians' difference.
          paired_delta_median_ms: r3(median(full.map((x, i) => x - (samples.get(name)?.[i] ?? Number.NaN)))),
          // QEMU's main-thread CPU time until QMP was ready: what the device costs, load aside.
          qemu_cpu_default_median_ms: r3(median(fullCpu)),
          qemu_cpu_without_median_ms: r3(median(cpu.get(name) ?? [])),
          qemu_cpu_paired_delta_median_ms: r3(
            median(fullCpu.map((x, i) => x - (cpu.get(name)?.[i] ?? Number.NaN))),
          ),
          machine: 'shared 2-core host, TCG',
        },
      }));
    return { samples: [], baseline: [], rows };
  },
};

/** Launch cost of each default device (`npm run bench -- argv-cost`). */
export const benchmarks: Benchmark[] = [argvCost];
