// Property: random hot-plug / unplug / resize sequences, with pause/resume and STOP pre-empting an
// operation mixed in, against a real QEMU running the default guest: after every step the recorded
// device state equals what QMP reports (devices, block nodes, memory devices, vCPUs, chardevs, objects).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DeviceState,
  type HotplugContext,
  HotplugError,
  runOperation,
  settlePendingRemovals,
  setupVirtioMem,
} from '../../src/hotplug/index.js';
import {
  cleanupVms,
  contextFor,
  launchVm,
  qmpView,
  recordedView,
  testConfig,
  type Vm,
} from '../integration/hotplug-harness.js';

interface Real {
  vm: Vm;
  state: DeviceState;
  paused: boolean;
  next: number;
  file: string;
}
interface Model {
  paused: boolean;
}

afterEach(cleanupVms);

function ctxOf(r: Real, signal?: AbortSignal): HotplugContext {
  return contextFor(r.vm, {
    state: r.state,
    paused: r.paused,
    config: testConfig({ virtioMem: true }),
    deadlines: { deviceDeletedMs: 15_000 },
    limits: { hostMemMiB: 1024 },
    ...(signal ? { signal } : {}),
  });
}

/** The invariant: QMP shows exactly what we recorded; a pending removal may already be gone. */
async function invariant(r: Real): Promise<void> {
  const seen = await qmpView(r.vm);
  const want = recordedView(r.state);
  const pending = new Set(r.state.devices.filter((d) => d.pendingRemoval).map((d) => d.id));
  const drop = (v: typeof seen) => ({
    ...v,
    devices: v.devices.filter((d) => !pending.has(d)),
    blockBackends: v.blockBackends.filter((d) => !pending.has(d)),
  });
  expect(drop(seen)).toEqual(drop(want));
}

function dimmMiB(state: DeviceState): number {
  return state.dimms.reduce((n, d) => n + d.sizeMiB, 0);
}

/** Runs an operation; typed hot-plug errors are allowed outcomes, anything else fails the property. */
async function attempt(r: Real, op: Parameters<typeof runOperation>[1], signal?: AbortSignal): Promise<void> {
  try {
    await runOperation(ctxOf(r, signal), op);
  } catch (err) {
    if (!(err instanceof HotplugError)) throw err;
  }
}

class PlugDisk implements fc.AsyncCommand<Model, Real> {
  constructor(readonly driver: 'virtio-blk' | 'virtio-scsi') {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    await attempt(r, { kind: 'hotplug-block', id: `d${r.next++}`, file: r.file, driver: this.driver });
    await invariant(r);
  }
  toString = () => `plug(${this.driver})`;
}

class Unplug implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    const live = r.state.devices.filter((d) => !d.pendingRemoval);
    const d = live[this.pick % Math.max(1, live.length)];
    if (d) await attempt(r, { kind: 'unplug', id: d.id });
    await invariant(r);
  }
  toString = () => `unplug(#${this.pick})`;
}

class PlugMemory implements fc.AsyncCommand<Model, Real> {
  constructor(readonly mib: number) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    await attempt(r, { kind: 'hotplug-memory', mib: this.mib });
    await invariant(r);
  }
  toString = () => `memory(+${this.mib})`;
}

class ResizeVirtioMem implements fc.AsyncCommand<Model, Real> {
  constructor(readonly mib: number) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    await attempt(r, { kind: 'resize-memory', mib: 512 + dimmMiB(r.state) + this.mib });
    await invariant(r);
  }
  toString = () => `virtio-mem(${this.mib})`;
}

class ResizeVcpus implements fc.AsyncCommand<Model, Real> {
  constructor(readonly count: number) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    await attempt(r, { kind: 'resize-vcpus', count: this.count });
    await invariant(r);
  }
  toString = () => `vcpus(${this.count})`;
}

class Pause implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => !m.paused;
  async run(m: Model, r: Real): Promise<void> {
    await r.vm.qmp.execute('stop');
    m.paused = r.paused = true;
    await invariant(r);
  }
  toString = () => 'pause';
}

class Resume implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.paused;
  async run(m: Model, r: Real): Promise<void> {
    await r.vm.qmp.execute('cont');
    m.paused = r.paused = false;
    await settlePendingRemovals(ctxOf(r));
    await invariant(r);
  }
  toString = () => 'resume';
}

/** STOP pre-empting an operation: the abort fires after `delayMs` while the plug is under way. */
class PreemptedPlug implements fc.AsyncCommand<Model, Real> {
  constructor(readonly delayMs: number) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error('STOP')), this.delayMs);
    await attempt(r, { kind: 'hotplug-block', id: `p${r.next++}`, file: r.file }, ac.signal);
    clearTimeout(timer);
    await invariant(r);
  }
  toString = () => `stop-during-plug(${this.delayMs}ms)`;
}

const commands = [
  fc.constantFrom('virtio-blk', 'virtio-scsi').map((d) => new PlugDisk(d as 'virtio-blk' | 'virtio-scsi')),
  fc.nat(8).map((n) => new Unplug(n)),
  fc.constantFrom(64, 128).map((n) => new PlugMemory(n)),
  fc.constantFrom(0, 64, 128).map((n) => new ResizeVirtioMem(n)),
  fc.integer({ min: 1, max: 4 }).map((n) => new ResizeVcpus(n)),
  fc.constant(new Pause()),
  fc.constant(new Resume()),
  fc.integer({ min: 0, max: 3 }).map((n) => new PreemptedPlug(n)),
];

describe('random hot-plug sequences against a real QEMU and guest', () => {
  it('keep the recorded device list equal to what QMP reports after every step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 10 }), async (cmds) => {
        const vm = await launchVm({ guest: true, scsi: true });
        try {
          await vm.agent?.waitReady({ timeout: 60_000 });
          const file = join(vm.dir, 'shared.img');
          await writeFile(file, Buffer.alloc(1024 * 1024));
          const real: Real = {
            vm,
            state: DeviceState.create({ bridges: vm.bridges }),
            paused: false,
            next: 0,
            file,
          };
          await setupVirtioMem(ctxOf(real));
          await invariant(real);
          try {
            await fc.asyncModelRun(() => ({ model: { paused: false }, real }), cmds);
          } catch (err) {
            // Keep QEMU's own words when it went away.
            const stderr = await readFile(join(vm.dir, 'qemu.stderr'), 'utf8').catch(() => '');
            if (stderr) (err as Error).message += `\nqemu stderr: ${stderr.slice(-2000)}`;
            throw err;
          }
        } finally {
          await cleanupVms();
        }
      }),
      {
        numRuns: Number(process.env.HOTPLUG_PROPERTY_RUNS ?? 6),
        endOnFailure: true,
        ...(process.env.HOTPLUG_PROPERTY_SEED
          ? { seed: Number(process.env.HOTPLUG_PROPERTY_SEED), path: process.env.HOTPLUG_PROPERTY_PATH }
          : {}),
      },
    );
  }, 600_000);
});
