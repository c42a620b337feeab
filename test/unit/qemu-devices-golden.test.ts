// Golden argv tests in the style of libvirt's qemuxml2argv: test/golden/devices/<case>.json (a device
// descriptor and its context) → <case>.args (one argv element per line). UPDATE_GOLDEN=1 rewrites.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deviceArgs } from '../../src/qemu/devices/index.js';
import type { DeviceContext, QemuArch, QemuDevice, QemuDeviceType } from '../../src/qemu/devices/types.js';

const DIR = join(import.meta.dirname, '..', 'golden', 'devices');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface Fixture {
  readonly ctx: DeviceContext;
  readonly device: QemuDevice;
}

// Compile-time exhaustive: adding a device type without listing it here fails the typecheck.
const EVERY_TYPE: Record<QemuDeviceType, true> = {
  block: true,
  nvdimm: true,
  fs: true,
  char: true,
  serial: true,
  net: true,
  'vhost-user': true,
  vfio: true,
  'scsi-controller': true,
  bridge: true,
  'pcie-root-port': true,
  vsock: true,
  rng: true,
  balloon: true,
  iommu: true,
  loader: true,
  pvpanic: true,
};
const EVERY_ARCH: Record<QemuArch, true> = { amd64: true, arm64: true, ppc64le: true, s390x: true };

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
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

  it('covers every device type and every arch', () => {
    const fixtures = inputs.map((i) => JSON.parse(readFileSync(join(DIR, `${i}.json`), 'utf8')) as Fixture);
    expect(new Set(fixtures.map((f) => f.device.type))).toEqual(new Set(Object.keys(EVERY_TYPE)));
    expect(new Set(fixtures.map((f) => f.ctx.arch))).toEqual(new Set(Object.keys(EVERY_ARCH)));
  });

  for (const name of inputs.sort()) {
    it(`builds the argv of ${name} exactly as recorded`, () => {
      // Frozen: a builder that mutated its input would throw here.
      const fixture = deepFreeze(JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as Fixture);
      const argv = deviceArgs(fixture.device, fixture.ctx);
      expect(deviceArgs(fixture.device, fixture.ctx), 'the same argv on a second call').toEqual(argv);
      expect(argv.every((a) => !a.includes('\n'))).toBe(true);
      const actual = `${argv.join('\n')}\n`;
      const argsPath = join(DIR, `${name}.args`);
      if (UPDATE) writeFileSync(argsPath, actual);
      expect(actual).toBe(readFileSync(argsPath, 'utf8'));
    });
  }
});
