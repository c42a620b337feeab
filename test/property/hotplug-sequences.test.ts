// Property: random hot-plug / unplug / resize sequences with pause/resume mixed in, on a sandbox
// made by createSandbox (the planner's argv, the default guest, its agent): every operation that
// should succeed does (counted: a run where everything is refused fails), every refusal is a typed
// hot-plug error, and after every step QMP shows exactly the devices the operations' results say.
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SandboxOperation } from '../../machines/operation.types.js';
import {
  HotplugError,
  type HotplugResult,
  HotplugRolledBackError,
  HotplugTimeoutError,
  type UnplugResult,
} from '../../src/hotplug/index.js';
import { OperationCapacityError } from '../../src/sandbox/errors.js';
import { descendants, leftovers } from '../helpers/census.js';
import {
  cleanupFiles,
  type HotplugSandbox,
  image,
  qmpView,
  runBase,
  startSandbox,
} from '../integration/hotplug-fixtures.js';
import { stopAll } from '../integration/sandbox-fixtures.js';

const MAX_VCPUS = 4;
const MEM_SLOTS = 4;

interface Real {
  readonly h: HotplugSandbox;
  readonly file: string;
  next: number;
  paused: boolean;
  vcpus: number;
  dimms: number;
  /** Devices the results say QEMU has; `uncertain` when an outcome leaves it either way. */
  readonly devices: Map<string, { readonly driver: string; uncertain: boolean }>;
  successes: number;
}
type Model = Record<string, never>;

afterEach(async () => {
  await stopAll();
  expect(descendants()).toEqual([]);
  expect(leftovers(runBase)).toEqual([]);
});
afterAll(cleanupFiles);

/** Runs an operation: its result, or its typed hot-plug error (anything else fails the property). */
async function attempt(r: Real, op: SandboxOperation): Promise<{ ok: unknown } | { err: unknown }> {
  try {
    return { ok: await r.h.sb.operate(op) };
  } catch (err) {
    if (!(err instanceof HotplugError) && !(err instanceof OperationCapacityError)) throw err;
    return { err };
  }
}

/** QMP's devices (beyond the planner's, DIMMs and virtio-mem) and block nodes equal what the results say. */
async function invariant(r: Real): Promise<void> {
  const seen = await qmpView(r.h);
  const uncertain = new Set([...r.devices].filter(([, d]) => d.uncertain).map(([id]) => id));
  const keep = (id: string) => !uncertain.has(id) && !id.startsWith('dimm') && id !== 'virtiomem0';
  const certain = [...r.devices.keys()].filter(keep).sort();
  expect(seen.devices.filter(keep)).toEqual(certain);
  expect(seen.blockNodes.filter((n) => keep(n.slice('drive-'.length)))).toEqual(
    certain.map((id) => `drive-${id}`),
  );
  expect(seen.cpus).toHaveLength(r.vcpus - 1);
}

class PlugDisk implements fc.AsyncCommand<Model, Real> {
  constructor(readonly driver: 'virtio-blk' | 'virtio-scsi') {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    const id = `d${r.next++}`;
    const out = await attempt(r, {
      kind: 'hotplug',
      device: { kind: 'block', id, file: r.file, driver: this.driver },
    });
    if ('ok' in out) {
      const res = out.ok as HotplugResult;
      expect(res).toMatchObject({ kind: 'hotplug', id, confirmedBy: r.paused ? 'qemu' : 'guest' });
      r.devices.set(id, { driver: this.driver, uncertain: false });
      r.successes++;
    } else {
      // Bridge slots and SCSI ids are plenty for ten commands: a disk plug must not fail here.
      expect.fail(`plug ${id} (${this.driver}) failed: ${String(out.err)}`);
    }
    await invariant(r);
  }
  toString = () => `plug(${this.driver})`;
}

class Unplug implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    const live = [...r.devices].filter(([, d]) => !d.uncertain);
    const entry = live[this.pick % Math.max(1, live.length)];
    if (entry) {
      const [id, d] = entry;
      const out = await attempt(r, { kind: 'unplug', id });
      if ('ok' in out) {
        const res = out.ok as UnplugResult;
        if (res.removed) r.devices.delete(id);
        else {
          // Only a paused guest leaves a PCI removal pending; QEMU removes SCSI disks by itself.
          expect(r.paused && d.driver === 'virtio-blk').toBe(true);
          d.uncertain = true;
        }
        r.successes++;
      } else if (out.err instanceof HotplugTimeoutError) {
        d.uncertain = true;
      } else {
        expect.fail(`unplug ${id} failed: ${String(out.err)}`);
      }
    }
    await invariant(r);
  }
  toString = () => `unplug(#${this.pick})`;
}

class PlugMemory implements fc.AsyncCommand<Model, Real> {
  constructor(readonly mib: number) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    const out = await attempt(r, { kind: 'hotplug-memory', mib: this.mib });
    if (r.dimms < MEM_SLOTS) {
      if ('err' in out) expect.fail(`memory +${this.mib} failed: ${String(out.err)}`);
      r.dimms++;
      r.successes++;
    } else {
      expect(out).toHaveProperty('err');
    }
    await invariant(r);
  }
  toString = () => `memory(+${this.mib})`;
}

class ResizeVcpus implements fc.AsyncCommand<Model, Real> {
  constructor(readonly count: number) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    const out = await attempt(r, { kind: 'resize-vcpus', count: this.count });
    if (this.count >= r.vcpus) {
      // Growing (or staying) within max vCPUs must work; shrinking is refused under TCG.
      if ('err' in out) expect.fail(`vcpus(${this.count}) failed: ${String(out.err)}`);
      expect(out).toMatchObject({ ok: { newVCPUs: this.count } });
      r.vcpus = this.count;
      r.successes++;
    } else {
      expect((out as { err?: unknown }).err).toBeInstanceOf(HotplugError);
      expect((out as { err?: unknown }).err).not.toBeInstanceOf(HotplugRolledBackError);
    }
    await invariant(r);
  }
  toString = () => `vcpus(${this.count})`;
}

class Pause implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    if (r.paused) return;
    await r.h.sb.pause();
    r.paused = true;
    await invariant(r);
  }
  toString = () => 'pause';
}

class Resume implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    if (!r.paused) return;
    await r.h.sb.resume();
    r.paused = false;
    await invariant(r);
  }
  toString = () => 'resume';
}

const commands = [
  fc.constantFrom('virtio-blk', 'virtio-scsi').map((d) => new PlugDisk(d as 'virtio-blk' | 'virtio-scsi')),
  fc.nat(8).map((n) => new Unplug(n)),
  // Multiples of the guest's 128 MiB memory block, so the guest can online them (phase two).
  fc.constantFrom(128, 256).map((n) => new PlugMemory(n)),
  fc.integer({ min: 1, max: MAX_VCPUS }).map((n) => new ResizeVcpus(n)),
  fc.constant(new Pause()),
  fc.constant(new Resume()),
];

describe('random hot-plug sequences on a sandbox from createSandbox', () => {
  it('succeed where they should, refuse only with typed errors, and keep QMP equal to what the results say after every step', async () => {
    let runs = 0;
    let successes = 0;
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 10 }), async (cmds) => {
        const h = await startSandbox({
          hypervisor: { blockDeviceDriver: 'virtio-scsi', defaultMaxVCPUs: MAX_VCPUS, memSlots: MEM_SLOTS },
          guestAgent: true,
          waitGuest: true,
          prefix: 'hpprop',
        });
        const real: Real = {
          h,
          file: image(h, `shared-${runs}.img`),
          next: 0,
          paused: false,
          vcpus: 1,
          dimms: 0,
          devices: new Map(),
          successes: 0,
        };
        try {
          await invariant(real);
          await fc.asyncModelRun(() => ({ model: {}, real }), cmds);
        } finally {
          runs++;
          successes += real.successes;
          await h.sb.stop();
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
    expect(runs).toBeGreaterThan(0);
    // It cannot pass with every operation refused.
    expect(successes).toBeGreaterThan(0);
  }, 600_000);
});
