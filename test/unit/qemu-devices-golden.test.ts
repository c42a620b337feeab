// Golden argv tests in the style of libvirt's qemuxml2argv: test/golden/devices/<case>.json (a device
// descriptor and its context) → <case>.args (one argv element per line). UPDATE_GOLDEN=1 rewrites.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deviceArgs } from '../../src/qemu/devices/index.js';
import type { DeviceContext, QemuDevice } from '../../src/qemu/devices/types.js';

const DIR = join(import.meta.dirname, '..', 'golden', 'devices');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface Fixture {
  readonly ctx: DeviceContext;
  readonly device: QemuDevice;
}

const files = readdirSync(DIR);
const inputs = files.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
const outputs = files.filter((f) => f.endsWith('.args')).map((f) => f.slice(0, -'.args'.length));

describe('device golden fixtures', () => {
  it('has fixtures, and every file is an input (.json) or an expected argv (.args)', () => {
    expect(inputs.length).toBeGreaterThan(0);
    expect(files.filter((f) => !f.endsWith('.json') && !f.endsWith('.args'))).toEqual([]);
  });

  it('pairs every .json input with a .args file and every .args file with its input', () => {
    const orphanOutputs = outputs.filter((o) => !inputs.includes(o));
    expect(orphanOutputs, '.args files without their .json input').toEqual([]);
    if (!UPDATE) {
      const missingOutputs = inputs.filter((i) => !outputs.includes(i));
      expect(missingOutputs, '.json inputs without a .args file (run with UPDATE_GOLDEN=1)').toEqual([]);
    }
  });

  for (const name of inputs.sort()) {
    it(`builds the argv of ${name} exactly as recorded`, () => {
      const fixture = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as Fixture;
      const argv = deviceArgs(fixture.device, fixture.ctx);
      expect(argv.every((a) => !a.includes('\n'))).toBe(true);
      const actual = `${argv.join('\n')}\n`;
      const argsPath = join(DIR, `${name}.args`);
      if (UPDATE) writeFileSync(argsPath, actual);
      expect(actual).toBe(readFileSync(argsPath, 'utf8'));
    });
  }
});
