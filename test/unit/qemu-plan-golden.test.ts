import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { caseArch, GOLDEN_PLAN_DIR, goldenArgs, loadPlanCases } from '../golden/plan/cases.js';

const update = process.env.UPDATE_GOLDEN === '1';
const cases = loadPlanCases();

describe('QEMU plan golden argv (test/golden/plan/<case>.json → <case>.args)', () => {
  it('has at least one fixture per arch and machine', () => {
    const machines = new Set(
      cases.map((c) => `${caseArch(c)}/${c.fixture.config.hypervisor?.hypervisorMachineType ?? ''}`),
    );
    expect(machines.size).toBeGreaterThanOrEqual(5);
  });

  for (const c of cases) {
    it(`renders ${c.name}: ${c.fixture.title}`, () => {
      const actual = goldenArgs(c);
      const file = join(GOLDEN_PLAN_DIR, `${c.name}.args`);
      if (update) writeFileSync(file, actual);
      expect(existsSync(file), `${c.name}.args is missing (run with UPDATE_GOLDEN=1)`).toBe(true);
      expect(actual).toBe(readFileSync(file, 'utf8'));
    });
  }

  it('has no golden file without its input fixture', () => {
    const inputs = new Set(cases.map((c) => c.name));
    const orphans = readdirSync(GOLDEN_PLAN_DIR)
      .filter((f) => f.endsWith('.args'))
      .map((f) => f.slice(0, -'.args'.length))
      .filter((n) => !inputs.has(n));
    expect(orphans).toEqual([]);
  });
});
