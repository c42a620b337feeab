import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { probeAcceleratorDetails } from '../../src/guest/kvm-probe.js';
import type { Arch } from '../../src/qemu/arch/types.js';
import { classifyQemuStartError } from '../../src/qemu/devices/refusal.js';
import type { QemuPlan } from '../../src/qemu/plan.js';
import {
  caseArch,
  type LaunchExpectation,
  loadPlanCases,
  type PlanCase,
  planCase,
} from '../golden/plan/cases.js';
import { descendants } from '../helpers/census.js';
import { guest, hostBinary } from '../helpers/env.js';
import { createTestNetns, slotsOf } from './qemu-plan-fds.js';
import { EarlyExitError, launchWithQmp, startVirtiofsd, syntheticGuest } from './qemu-plan-harness.js';
import { verifyPlanViaQmp } from './qemu-plan-verify.js';

const BINARIES: Record<Arch, string> = {
  amd64: 'qemu-system-x86_64',
  arm64: 'qemu-system-aarch64',
  ppc64le: 'qemu-system-ppc64',
  s390x: 'qemu-system-s390x',
};

const root = mkdtempSync(join(tmpdir(), 'vmactor-plan-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
// Every QEMU and virtiofsd a test started is gone when it ends (killed by PID and reaped).
afterEach(() => expect(descendants()).toEqual([]));

/** Creates the case's files (kernel, initrd, fixture files) under a fresh dir; returns it. */
function prepare(c: PlanCase): { dir: string; runDir: string } {
  const dir = join(root, c.name);
  const runDir = join(dir, 'run');
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const arch = caseArch(c) as Arch;
  const real = arch === 'amd64' ? guest() : undefined;
  if (real) {
    symlinkSync(real.kernel, join(dir, 'vmlinuz'));
    symlinkSync(real.initrd, join(dir, 'initrd.img'));
  } else {
    const g = syntheticGuest(arch, dir);
    symlinkSync(g.kernel, join(dir, 'vmlinuz'));
    symlinkSync(g.initrd, join(dir, 'initrd.img'));
  }
  for (const [name, size] of Object.entries(c.fixture.files ?? {})) {
    if (name.endsWith('/')) mkdirSync(join(dir, name), { recursive: true });
    else writeFileSync(join(dir, name), Buffer.alloc(size));
  }
  return { dir, runDir };
}

const cases = loadPlanCases();
const accepted = cases.filter((c) => c.fixture.launch.expect === 'accepted');
const refused = cases.filter((c) => c.fixture.launch.expect === 'refused');
const withKvm = cases.filter((c) => c.fixture.launch.expect === 'accepted-with-kvm');

/**
 * The launch prefix of a case: for `netns` cases a network namespace of the test's own, with
 * the config's taps by name created in it and the plan's fds opened there at QEMU's numbers.
 */
function launchWrap(c: PlanCase, plan: QemuPlan): { wrap: string[]; done: () => void } {
  if (c.fixture.launch.netns !== true) return { wrap: [], done: () => undefined };
  const ns = createTestNetns();
  for (const d of c.fixture.config.devices ?? []) if (d.kind === 'net' && d.ifname) ns.addTap(d.ifname);
  return { wrap: ns.wrap(slotsOf(plan.fds)), done: () => ns.remove() };
}

/** Plans, launches with -S, verifies through QMP; returns the number of checks. */
async function acceptCase(c: PlanCase): Promise<number> {
  const { dir, runDir } = prepare(c);
  const plan = planCase(c, dir, runDir);
  const { wrap, done } = launchWrap(c, plan);
  const fsd = await startVirtiofsd(plan);
  try {
    const q = await launchWithQmp(plan.argv, { wrap });
    try {
      return await verifyPlanViaQmp(q.qmp, plan);
    } finally {
      await q.kill();
    }
  } finally {
    await fsd?.kill();
    done();
  }
}

const archesUsed = [...new Set(cases.map((c) => caseArch(c) as Arch))];
const missing = archesUsed.filter((a) => hostBinary(BINARIES[a]) === undefined);

describe(`real QEMU accepts the planned argv (missing: ${missing.join(', ') || 'none'})`, () => {
  for (const c of accepted) {
    const arch = caseArch(c) as Arch;
    it(`${BINARIES[arch]} -S runs ${c.name} and QMP shows every planned device where the plan put it`, async () => {
      expect(await acceptCase(c)).toBeGreaterThan(0);
    });
  }

  for (const c of withKvm) {
    it(`${c.name}: accepted where KVM runs a guest, else accepted under -S or refused as ERR_QEMU_KVM_UNAVAILABLE`, async () => {
      const probe = await probeAcceleratorDetails();
      try {
        expect(await acceptCase(c)).toBeGreaterThan(0);
      } catch (err) {
        if (!(err instanceof EarlyExitError) || probe.accel === 'kvm') throw err;
        expect(classifyQemuStartError(err.stderr).code).toBe('ERR_QEMU_KVM_UNAVAILABLE');
      }
    });
  }

  for (const c of refused) {
    const exp = c.fixture.launch as Extract<LaunchExpectation, { expect: 'refused' }>;
    it(`QEMU refuses ${c.name} here and the refusal becomes ${exp.code}`, async () => {
      const { dir, runDir } = prepare(c);
      const plan = planCase(c, dir, runDir);
      const { wrap, done } = launchWrap(c, plan);
      let err: unknown;
      try {
        const q = await launchWithQmp(plan.argv, { wrap });
        await q.kill();
      } catch (e) {
        err = e;
      } finally {
        done();
      }
      expect(err).toBeInstanceOf(EarlyExitError);
      const refusal = classifyQemuStartError((err as EarlyExitError).stderr, exp.hints ?? {});
      expect(refusal.code).toBe(exp.code);
    });
  }
});
