// Every public operation end to end: each call timed until its promise resolves, against the
// minimal raw client (raw-client.ts) on (a) the same argv createSandbox plans and (b) a minimal
// argv. One round = one sandbox and two raw VMs of the default guest, side order rotated per round
// and per iteration; the first round is a warm-up and is not recorded.
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hotplugPlan } from '../../src/hotplug/build.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { persisterOf } from '../../src/sandbox/persist.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { guest, QEMU } from '../helpers/env.js';
import { freshId, quietLogger, stopAll, tracked } from '../integration/sandbox-fixtures.js';
import type { Benchmark, BenchRow } from './harness.js';
import { nowMs, tmpfsRunBase } from './harness.js';
import { connectPath, type RawVm, rawKill, rawLaunch, rawQuit, waitForText } from './raw-client.js';

const READY = 'VMACTOR-GUEST-READY';
const MEMORY_MIB = 512;
/** Round trips of check / pause / resume per side per round. */
const TOGGLES = 10;
/** Disk hot plugs (each then unplugged) per side per round. */
const DISKS = 2;

/** What one side does; each method resolves when the operation is done. */
interface Side {
  readonly label: 'vmactor' | 'raw' | 'minimal';
  start(): Promise<void>;
  ready(): Promise<void>;
  check(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  hotplug(i: number): Promise<void>;
  unplug(i: number): Promise<void>;
  addVcpu(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Resolves once the side's own background work after a call is done (vmactor writes a move
   * between running and paused to state.json just after the call resolved): awaited untimed after
   * every timed call, so it never lands on the next side's timed call.
   */
  settled(): Promise<void>;
  /** Kills whatever is left (after a failure). */
  dispose(): Promise<void>;
}

interface Round {
  readonly base: string;
  readonly kernel: string;
  readonly initrd: string;
}

/** The default guest's config (what the user passes to createSandbox). */
function guestConfig(id: string, g: { kernel: string; initrd: string }) {
  return { id, hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: MEMORY_MIB } };
}

const diskFile = (dir: string, side: string, i: number): string => join(dir, `${side}-${i}.img`);

function makeDisks(dir: string, side: string): void {
  for (let i = 0; i < DISKS; i++) writeFileSync(diskFile(dir, side, i), Buffer.alloc(1024 * 1024));
}

/** vmactor: createSandbox(config) with the default guest, driven through the public API only. */
function vmactorSide(r: Round): Side {
  let sb: Sandbox | undefined;
  const live = (): Sandbox => {
    if (!sb) throw new Error('no sandbox');
    return sb;
  };
  makeDisks(r.base, 'vmactor');
  return {
    label: 'vmactor',
    async start() {
      sb = tracked(
        await createSandbox(guestConfig(freshId('e2e'), r), {
          runDir: r.base,
          logger: quietLogger,
          accelerator: 'tcg',
        }),
      );
      await sb.start();
    },
    async ready() {
      await (await live().agent()).waitReady({ timeout: 120_000 });
    },
    check: () => live().check(),
    pause: () => live().pause(),
    resume: () => live().resume(),
    async hotplug(i) {
      await live().hotplug({
        kind: 'block',
        id: `disk${i}`,
        file: diskFile(r.base, 'vmactor', i),
        driver: 'virtio-blk',
      });
    },
    async unplug(i) {
      await live().unplug(`disk${i}`);
    },
    async addVcpu() {
      const res = await live().resizeVCPUs(2);
      if (res.added !== 1) throw new Error(`expected one vCPU added, got ${JSON.stringify(res)}`);
    },
    async stop() {
      await live().stop();
    },
    async settled() {
      if (sb) await persisterOf(sb)?.idle();
    },
    async dispose() {
      await sb?.stop();
    },
  };
}

/** The QMP lines the raw side sends for disk `i` on bridge slot 1 (precomputed, as a raw client would). */
function diskLines(
  config: Parameters<typeof hotplugPlan>[2],
  file: string,
  id: string,
): { blockdev: string; device: string; node: string } {
  const plan = hotplugPlan(
    { kind: 'block', id, file, driver: 'virtio-blk' },
    { bus: 'pci-bridge-0', addr: '01' },
    config,
    'raw',
    { isBlockDevice: false },
  );
  const step = plan.commands[0]?.step;
  if (step?.execute !== 'blockdev-add') throw new Error('expected one blockdev-add');
  return {
    blockdev: JSON.stringify(step.arguments),
    device: JSON.stringify(plan.device),
    node: String(step.arguments['node-name']),
  };
}

/**
 * The raw side: spawn argv → greeting → qmp_capabilities (→ cont after -S), then each operation's
 * commands one at a time (what a blocking minimal client does).
 */
function rawSide(
  label: 'raw' | 'minimal',
  r: Round,
  argvOf: (dir: string) => readonly string[],
  readyVia: 'agent-socket' | 'serial',
  hotplugConfig: Parameters<typeof hotplugPlan>[2],
): Side {
  let vm: RawVm | undefined;
  let readyP: Promise<void> | undefined;
  const dir = join(r.base, freshId(label));
  const live = (): RawVm => {
    if (!vm) throw new Error('no VM');
    return vm;
  };
  makeDisks(r.base, label);
  const argv = argvOf(dir);
  const lines = Array.from({ length: DISKS }, (_, i) =>
    diskLines(hotplugConfig, diskFile(r.base, label, i), `disk${i}`),
  );
  return {
    label,
    async start() {
      vm = await rawLaunch(argv, dir, { stdout: readyVia === 'serial' });
      // The serial console is read from the start; the agent socket is connected after.
      if (readyVia === 'serial') readyP = waitForText(vm.child.stdout as NodeJS.ReadableStream, READY);
    },
    async ready() {
      if (readyVia === 'serial') {
        await readyP;
        return;
      }
      const s = await connectPath(join(dir, 'kata.sock'));
      await waitForText(s, READY);
      // Kept open until the stop, as vmactor's agent client is.
      void live().exited.then(() => s.destroy());
    },
    async check() {
      await live().qmp.cmd('query-status');
    },
    async pause() {
      await live().qmp.cmd('stop');
    },
    async resume() {
      await live().qmp.cmd('cont');
    },
    async hotplug(i) {
      const l = lines[i]!;
      await live().qmp.cmd('blockdev-add', l.blockdev);
      await live().qmp.cmd('device_add', l.device);
    },
    async unplug(i) {
      const qmp = live().qmp;
      const id = `disk${i}`;
      const deleted = qmp.event((m) => m.event === 'DEVICE_DELETED' && m.data?.device === id);
      await qmp.cmd('device_del', `{"id":"${id}"}`);
      await deleted;
      // QEMU 7.2 may hold the node a moment after DEVICE_DELETED (an RCU callback): ask again.
      for (;;) {
        try {
          await qmp.cmd('blockdev-del', `{"node-name":"${lines[i]!.node}"}`);
          return;
        } catch (err) {
          if (!/in use|busy/i.test(String(err))) throw err;
          await new Promise((res) => setImmediate(res));
        }
      }
    },
    async addVcpu() {
      const qmp = live().qmp;
      const slots = (await qmp.cmd('query-hotpluggable-cpus')) as {
        type: string;
        props: Record<string, number>;
        'qom-path'?: string;
      }[];
      const free = slots.filter((s) => !s['qom-path']).sort((a, b) => cpuKey(a.props) - cpuKey(b.props))[0];
      if (!free) throw new Error('no free vCPU slot');
      await qmp.cmd('device_add', JSON.stringify({ driver: free.type, id: 'cpu1', ...free.props }));
    },
    async stop() {
      await rawQuit(live());
    },
    settled: () => Promise.resolve(),
    async dispose() {
      await rawKill(vm);
    },
  };
}

function cpuKey(p: Record<string, number>): number {
  return (
    (p['socket-id'] ?? 0) * 1e6 + (p['die-id'] ?? 0) * 1e4 + (p['core-id'] ?? 0) * 1e2 + (p['thread-id'] ?? 0)
  );
}

/**
 * The minimal argv: `-S`, one monitor on fd 3, kernel + initrd, plus only what a measured
 * operation needs: a pci-bridge (disk hot plug), `maxcpus=2` (vCPU hot plug) and a serial console
 * on stdout for the ready line (the kernel's console moved from hvc0 to ttyS0).
 */
function minimalArgv(kernel: string, initrd: string, append: string): readonly string[] {
  return [
    QEMU,
    '-S',
    '-machine',
    'q35,accel=tcg',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-m',
    `${MEMORY_MIB}M`,
    '-smp',
    '1,maxcpus=2',
    '-chardev',
    'socket,id=mon0,fd=3',
    '-mon',
    'chardev=mon0,mode=control',
    '-device',
    'pci-bridge,bus=pcie.0,id=pci-bridge-0,chassis_nr=1,shpc=on,addr=2',
    '-serial',
    'stdio',
    '-kernel',
    kernel,
    '-initrd',
    initrd,
    '-append',
    append,
  ];
}

type Op = 'start' | 'boot' | 'check' | 'pause' | 'resume' | 'hotplug' | 'unplug' | 'vcpu' | 'stop';
const OPS: readonly Op[] = ['start', 'boot', 'check', 'pause', 'resume', 'hotplug', 'unplug', 'vcpu', 'stop'];

type Samples = Record<Op, Record<Side['label'], number[]>>;

function emptySamples(): Samples {
  const s = {} as Samples;
  for (const op of OPS) s[op] = { vmactor: [], raw: [], minimal: [] };
  return s;
}

/** `order` rotated by `k`. */
function rotate<T>(xs: readonly T[], k: number): T[] {
  const n = xs.length;
  return xs.map((_, i) => xs[(i + k) % n]!);
}

async function timed(into: number[] | undefined, fn: () => Promise<void>): Promise<void> {
  const t = nowMs();
  await fn();
  into?.push(nowMs() - t);
}

/** `side.<op>` timed until its promise resolves, then (untimed) the side's background work. */
async function timedOn(side: Side, into: number[] | undefined, fn: () => Promise<void>): Promise<void> {
  await timed(into, fn);
  await side.settled();
}

/** The argv and config createSandbox plans (a sandbox created and stopped, never launched). */
async function probePlan(
  g: { kernel: string; initrd: string },
  base: string,
): Promise<{ argv: readonly string[]; runDir: string; config: Parameters<typeof hotplugPlan>[2] }> {
  const probe = await createSandbox(guestConfig(freshId('probe'), g), {
    runDir: base,
    logger: quietLogger,
    accelerator: 'tcg',
  });
  const out = { argv: [...probe.plan.argv], runDir: probe.runDir, config: probe.config?.hypervisor };
  await probe.stop();
  if (!out.config) throw new Error('no config');
  return { ...out, config: out.config };
}

/** One round: three VMs, every operation on each, in rotated order; `s` undefined for the warm-up. */
async function round(
  k: number,
  s: Samples | undefined,
  g: { kernel: string; initrd: string },
): Promise<void> {
  const base = tmpfsRunBase();
  const r: Round = { base, ...g };
  const plan = await probePlan(g, base);
  const append = plan.argv[plan.argv.indexOf('-append') + 1] ?? '';
  const serialAppend = `${append.replace(/ ?console=hvc\d/g, '')} console=ttyS0`;
  const sides = [
    vmactorSide(r),
    rawSide(
      'raw',
      r,
      (dir) => plan.argv.map((a) => a.replaceAll(plan.runDir, dir)),
      'agent-socket',
      plan.config,
    ),
    rawSide('minimal', r, () => minimalArgv(g.kernel, g.initrd, serialAppend), 'serial', plan.config),
  ];
  const rec = (op: Op, side: Side): number[] | undefined => s?.[op][side.label];
  try {
    for (const side of rotate(sides, k)) {
      const t = nowMs();
      await timed(rec('start', side), () => side.start());
      await side.ready();
      rec('boot', side)?.push(nowMs() - t);
    }
    for (let i = 0; i < TOGGLES; i++) {
      for (const side of rotate(sides, k + i)) await timedOn(side, rec('check', side), () => side.check());
      for (const side of rotate(sides, k + i + 1)) {
        await timedOn(side, rec('pause', side), () => side.pause());
        await timedOn(side, rec('resume', side), () => side.resume());
      }
    }
    for (let i = 0; i < DISKS; i++) {
      for (const side of rotate(sides, k + i)) {
        await timedOn(side, rec('hotplug', side), () => side.hotplug(i));
        await timedOn(side, rec('unplug', side), () => side.unplug(i));
      }
    }
    for (const side of rotate(sides, k)) await timedOn(side, rec('vcpu', side), () => side.addVcpu());
    for (const side of rotate(sides, k + 1)) await timed(rec('stop', side), () => side.stop());
  } finally {
    for (const side of sides) await side.dispose().catch(() => {});
    await stopAll();
    await rm(base, { recursive: true, force: true });
  }
}

const NAMES: Record<Op, string> = {
  start: 'e2e.start (createSandbox().start() → running)',
  boot: 'e2e.boot (createSandbox().start() → agent ready line)',
  check: 'e2e.check (sb.check(): query-status)',
  pause: 'e2e.pause (sb.pause(): stop)',
  resume: 'e2e.resume (sb.resume(): cont)',
  hotplug: 'e2e.hotplug (sb.hotplug(virtio-blk) vs blockdev-add, device_add sequential)',
  unplug: 'e2e.unplug (sb.unplug(): device_del → DEVICE_DELETED → blockdev-del)',
  vcpu: 'e2e.resizeVCPUs (+1: query-hotpluggable-cpus, device_add)',
  stop: 'e2e.stop (sb.stop() until cleaned vs quit → reaped)',
};

const e2e: Benchmark = {
  name: 'e2e.public-api',
  deadlineMs: 3_600_000,
  async run(runs, { smoke }) {
    const g = guest('cloud');
    const rounds = smoke ? 1 : runs;
    const samples = emptySamples();
    // Warm-up: one unrecorded round (module loading, JIT, page cache), skipped in the smoke run.
    if (!smoke) await round(0, undefined, g);
    for (let k = 0; k < rounds; k++) await round(smoke ? 0 : k + 1, samples, g);
    const rows: BenchRow[] = OPS.map((op) => ({
      name: NAMES[op],
      samples: samples[op].vmactor,
      baseline: samples[op].raw,
      minimal: samples[op].minimal,
      extra: { rounds, machine: 'shared 2-core host, TCG' },
    }));
    return { samples: [], baseline: [], rows };
  },
};

/** End-to-end benchmarks of the public API (`npm run bench -- e2e`). */
export const benchmarks: Benchmark[] = [e2e];
