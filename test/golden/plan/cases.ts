// The plan golden cases: fixtures test/golden/plan/<case>.json → <case>.args, shared by the golden,
// acceptance (real QEMU) and CLI tests.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SandboxConfig } from '../../../src/config/types.js';
import type { PlanQemuOptions, QemuPlan } from '../../../src/qemu/plan.js';
import { planFromConfig } from './plan-from-config.js';

/** Directory of the fixtures. */
export const GOLDEN_PLAN_DIR = dirname(fileURLToPath(import.meta.url));

/** Placeholder for the fixture's file directory inside config strings. */
export const DIR_TOKEN = '${DIR}';
/** What `${DIR}` becomes in golden argv files. */
export const GOLDEN_DIR = '/srv/vmactor-golden';

/** How real QEMU is expected to take the case. */
export type LaunchExpectation = (
  /** Launch with -S and verify every planned device through QMP. */
  | { readonly expect: 'accepted' }
  /**
   * Needs KVM: accepted (as above) where the accelerator probe says KVM runs a guest; elsewhere
   * QEMU may still take it under -S, or refuse it, and then the refusal is `ERR_QEMU_KVM_UNAVAILABLE`.
   */
  | { readonly expect: 'accepted-with-kvm' }
  /** QEMU refuses (hardware missing here): the refusal classifies to this error code. */
  | { readonly expect: 'refused'; readonly code: string; readonly hints?: { readonly hugePages?: boolean } }
) & {
  /**
   * Launch inside a network namespace the test creates: taps named by `ifname` created there, and
   * the plan's fds opened there at QEMU's numbers (tap queues; /dev/null for vhost fds, which this
   * host cannot give).
   */
  readonly netns?: boolean;
};

/** One fixture file. */
export interface PlanFixture {
  /** What the case shows (the golden test's title). */
  readonly title: string;
  /** vmactor's sandbox config (JSON); strings may contain `${DIR}`. */
  readonly config: SandboxConfig;
  /** planQemu options beyond the run dir and `sizeOf` (JSON-friendly). */
  readonly options?: Omit<PlanQemuOptions, 'runDir' | 'sizeOf'>;
  /** Files to create under DIR before launching (name → size in bytes; a trailing `/` makes a dir). */
  readonly files?: Readonly<Record<string, number>>;
  readonly launch: LaunchExpectation;
}

/** A loaded case. */
export interface PlanCase {
  readonly name: string;
  readonly fixture: PlanFixture;
}

/** Every `<case>.json` in the golden dir, sorted by name. */
export function loadPlanCases(): PlanCase[] {
  return readdirSync(GOLDEN_PLAN_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      name: f.slice(0, -'.json'.length),
      fixture: JSON.parse(readFileSync(join(GOLDEN_PLAN_DIR, f), 'utf8')) as PlanFixture,
    }));
}

function substitute(value: unknown, dir: string): unknown {
  if (typeof value === 'string') return value.replaceAll(DIR_TOKEN, dir);
  if (Array.isArray(value)) return value.map((v) => substitute(v, dir));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, dir)]));
  }
  return value;
}

/** The case's config with `${DIR}` replaced. */
export function caseConfig(c: PlanCase, dir: string): SandboxConfig {
  return substitute(c.fixture.config, dir) as SandboxConfig;
}

/** The arch of a case (amd64 unless the config says otherwise). */
export function caseArch(c: PlanCase): string {
  return c.fixture.config.hypervisor?.arch ?? 'amd64';
}

/** Plans a case with files under `dir` and the given run dir. */
export function planCase(c: PlanCase, dir: string, runDir: string): QemuPlan {
  const sizes = new Map(Object.entries(c.fixture.files ?? {}).map(([name, size]) => [`${dir}/${name}`, size]));
  return planFromConfig(caseConfig(c, dir), { ...(c.fixture.options ?? {}), runDir, sizeOf: (p) => sizes.get(p) });
}

/** The golden rendering of a case: its argv, one element per line. */
export function goldenArgs(c: PlanCase): string {
  const plan = planCase(c, GOLDEN_DIR, `/run/vmactor/${c.name}`);
  return `${plan.argv.join('\n')}\n`;
}
