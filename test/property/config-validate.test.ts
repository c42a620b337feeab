import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../../src/config/config-error.js';
import { ARCH_DEFAULTS } from '../../src/config/defaults.js';
import { buildKernelParams, deserializeParams, serializeParams } from '../../src/config/kernel-params.js';
import { sandboxConfigJsonSchema, sandboxConfigSchema } from '../../src/config/schema.js';
import type { ValidatedConfig } from '../../src/config/types.js';
import { HYPERVISOR_KEYS, SANDBOX_ID_RE, validateConfig } from '../../src/config/validate.js';

const OPTS = { hostCpus: 8, hostMemoryMiB: 16384, arch: 'amd64' as const };

// Pools mixing valid values, edge values and wrong types, per field.
const num = fc.oneof(
  fc.constantFrom(0, 1, 2, 4, 8, 9, 240, 241, 255, 256, 257, 2048, 16384, 16385, -1, 1.5, Number.NaN),
  fc.integer({ min: -5, max: 70000 }),
  fc.constantFrom('2', null, true),
);
const flag = fc.oneof(fc.boolean(), fc.boolean(), fc.constantFrom('true', 0, 1, null));
const path = fc.oneof(
  fc.constantFrom(
    '',
    '/guest/vmlinuz',
    '/guest/initrd',
    '/img',
    '/m',
    '/d',
    'relative',
    '/with space,comma=eq"q',
    7,
  ),
  fc.string().map((s) => `/${s}`),
);
const str = fc.oneof(fc.string(), fc.constantFrom('', 'pmu=off', 'nvdimm=on,,x', 'a\0b'), fc.constant(3));
const param = fc.oneof(
  fc.record({
    key: fc.constantFrom('a', 'quiet', 'console', '', 'a b', 'k=v'),
    value: fc.oneof(fc.string(), fc.constant(1)),
  }),
  fc.constantFrom('x', null),
);
const params = fc.oneof(
  fc.array(param, { maxLength: 3 }),
  fc.constantFrom('a=1 b', ' =x ', 'panic=0'),
  fc.constant(5),
);

const hypervisorFields: Record<string, fc.Arbitrary<unknown>> = {
  arch: fc.constantFrom('amd64', 'arm64', 'ppc64le', 's390x', 'x86', 1),
  numVCPUs: num,
  defaultMaxVCPUs: num,
  memorySize: num,
  defaultBridges: num,
  msize9p: num,
  memSlots: num,
  memOffset: num,
  pcieRootPort: num,
  kernelParams: params,
  kernelPath: path,
  imagePath: path,
  initrdPath: path,
  memoryPath: path,
  devicesStatePath: path,
  fileBackedMemRootDir: path,
  hypervisorPath: fc.constantFrom('qemu-system-x86_64', '/usr/bin/qemu', 'bin/qemu', ''),
  hypervisorMachineType: fc.constantFrom(
    'q35',
    'pc',
    'virt',
    'pseries',
    's390-ccw-virtio',
    'microvm',
    'bogus',
    '',
  ),
  blockDeviceDriver: fc.constantFrom(
    'virtio-scsi',
    'virtio-blk',
    'virtio-blk-ccw',
    'nvdimm',
    'virtio-mmio',
    'ide',
  ),
  sharedFS: fc.constantFrom('virtio-9p', 'virtio-fs', 'none', 'nfs'),
  virtioFSCache: fc.constantFrom('auto', 'always', 'none', 'sometimes'),
  virtioFSExtraArgs: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), fc.constant('x')),
  machineAccelerators: str,
  cpuFeatures: str,
  seccompSandbox: fc.constantFrom('on', 'on,obsolete=deny', 'off', 'on;x', ''),
  bootToBeTemplate: flag,
  bootFromTemplate: flag,
  enableVhostUserStore: flag,
  hugePages: flag,
  debug: flag,
  disableImageNvdimm: flag,
  useVSock: flag,
  iommu: flag,
  bogusKey: fc.anything(),
};

const device = fc.oneof(
  fc.record(
    {
      kind: fc.constantFrom('block', 'net', 'fs', 'vhost-user', 'vfio', 'vsock', 'rng', 'gpu'),
      type: fc.constantFrom('virtio-fs', 'virtio-9p', 'blk', 'fs', 'net', 'x'),
      id: fc.constantFrom('d0', 'd1', 'd2', '0bad', 'net0'),
      file: path,
      ifname: fc.constantFrom('tap0', 'a-very-long-interface-name'),
      fds: fc.oneof(fc.array(fc.nat(70000), { maxLength: 3 })),
      queues: num,
      mac: fc.constantFrom('02:00:00:00:00:01', 'zz'),
      tag: fc.constantFrom('kataShared', '', 't'.repeat(40)),
      sharedDir: path,
      path,
      socketPath: path,
      bdf: fc.constantFrom('0000:01:00.0', '01:00.0', 'x'),
      sysfsDev: fc.constantFrom('/sys/bus/mdev/devices/u', '/tmp/x'),
      contextId: num,
      cache: fc.oneof(
        fc.constantFrom('none', { direct: true }, { noFlush: 1 }),
        fc.record({ direct: fc.boolean() }),
      ),
      vhostFds: fc.array(fc.nat(10), { maxLength: 2 }),
      extra: fc.anything(),
    },
    { requiredKeys: ['kind'] },
  ),
  fc.anything(),
);

const sandboxInput = fc.record(
  {
    id: fc.oneof(fc.constantFrom('sb-1', 'a', '..', 'a..b', '-x', 'a/b', 'é', 'x'.repeat(65)), fc.string()),
    hypervisor: fc.oneof(fc.record(hypervisorFields, { requiredKeys: [] }), fc.anything()),
    devices: fc.oneof(fc.array(device, { maxLength: 4 }), fc.anything()),
    stray: fc.anything(),
  },
  { requiredKeys: [] },
);

// Valid-leaning inputs: right types everywhere, so the cross-field rules decide.
const validDevice = fc.oneof(
  fc.record({
    kind: fc.constant('block'),
    id: fc.constantFrom('d0', 'd1'),
    file: fc.constantFrom('/a.img', '/b,c.img'),
    readOnly: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('net'),
    id: fc.constantFrom('n0', 'n1'),
    ifname: fc.constantFrom('tap0', 'tap1'),
    queues: fc.constantFrom(1, 2),
  }),
  fc.record({
    kind: fc.constant('fs'),
    type: fc.constant('virtio-fs'),
    id: fc.constant('fs0'),
    tag: fc.constant('kataShared'),
    sharedDir: fc.constant('/srv'),
  }),
  fc.record(
    {
      kind: fc.constant('vsock'),
      id: fc.constantFrom('v0', 'v1'),
      contextId: fc.constantFrom(3, 4),
    },
    { requiredKeys: ['kind', 'id'] },
  ),
  fc.record(
    {
      kind: fc.constant('block'),
      id: fc.constantFrom('d2', 'd3'),
      file: fc.constant('/c.img'),
      cache: fc.record({ direct: fc.boolean(), noFlush: fc.boolean() }, { requiredKeys: [] }),
    },
    { requiredKeys: ['kind', 'id', 'file'] },
  ),
  fc.record({ kind: fc.constant('rng'), id: fc.constant('rng0') }),
);
const validishInput = fc.record(
  {
    id: fc.constantFrom('sb-1', 'web.2', 'A_b'),
    hypervisor: fc.record(
      {
        arch: fc.constantFrom('amd64', 'arm64', 'ppc64le', 's390x'),
        numVCPUs: fc.constantFrom(0, 1, 2, 4, 8, 9),
        defaultMaxVCPUs: fc.constantFrom(0, 2, 8, 16),
        memorySize: fc.constantFrom(0, 128, 256, 1024, 2048, 20000),
        defaultBridges: fc.constantFrom(0, 1, 5, 6),
        msize9p: fc.constantFrom(0, 8192, 65536),
        kernelParams: fc.constantFrom('a=1', [{ key: 'x', value: 'y,z' }]),
        imagePath: fc.constantFrom('', '/img'),
        initrdPath: fc.constantFrom('', '/initrd'),
        memoryPath: fc.constantFrom('', '/m'),
        devicesStatePath: fc.constantFrom('', '/d'),
        sharedFS: fc.constantFrom('virtio-9p', 'virtio-fs', 'none'),
        bootToBeTemplate: fc.boolean(),
        bootFromTemplate: fc.boolean(),
        enableVhostUserStore: fc.boolean(),
        hugePages: fc.boolean(),
        debug: fc.boolean(),
        seccompSandbox: fc.constant('on,obsolete=deny'),
      },
      { requiredKeys: [] },
    ),
    devices: fc.array(validDevice, { maxLength: 4 }),
  },
  { requiredKeys: ['id'] },
);

const anyInput = fc.oneof(
  { weight: 4, arbitrary: sandboxInput },
  { weight: 4, arbitrary: validishInput },
  { weight: 1, arbitrary: fc.anything() },
);

/** Split `devices[2].file` / `hypervisor["odd key"]` into segments. */
function segments(p: string): (string | number)[] {
  return [...p.matchAll(/\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|([^.[\]]+)/g)].map((m) => {
    if (m[1] !== undefined) return JSON.parse(`"${m[1]}"`) as string;
    if (m[2] !== undefined) return Number(m[2]);
    return m[3] as string;
  });
}

/** A path is real if it exists in the input, or names a missing field under an existing object, or a hypervisor key. */
function isRealPath(input: unknown, p: string): boolean {
  if (p === '') return true;
  const segs = segments(p);
  if (
    segs[0] === 'hypervisor' &&
    segs.length === 2 &&
    (HYPERVISOR_KEYS as readonly (string | number)[]).includes(segs[1] as string)
  ) {
    return true;
  }
  let node: unknown = input;
  for (const [i, seg] of segs.entries()) {
    if (node === null || typeof node !== 'object') return false;
    const has = Object.hasOwn(node as object, seg);
    if (!has) return i === segs.length - 1 && !Array.isArray(node); // a missing (required) field of an existing object
    node = (node as Record<string | number, unknown>)[seg];
  }
  return true;
}

function checkInvariants(cfg: ValidatedConfig): void {
  const h = cfg.hypervisor;
  expect(SANDBOX_ID_RE.test(cfg.id) && !cfg.id.includes('..')).toBe(true);
  for (const key of HYPERVISOR_KEYS) if (key !== 'seccompSandbox') expect(h[key]).toBeDefined();
  expect(h.memorySize).toBeGreaterThanOrEqual(256);
  expect(h.memorySize).toBeLessThanOrEqual(OPTS.hostMemoryMiB);
  expect(h.numVCPUs).toBeGreaterThanOrEqual(1);
  expect(h.numVCPUs).toBeLessThanOrEqual(h.defaultMaxVCPUs);
  expect(h.defaultMaxVCPUs).toBeLessThanOrEqual(ARCH_DEFAULTS[h.arch].maxVCPUs);
  expect(ARCH_DEFAULTS[h.arch].machineTypes).toContain(h.hypervisorMachineType);
  expect(h.kernelPath.startsWith('/')).toBe(true);
  expect((h.imagePath === '') !== (h.initrdPath === '')).toBe(true);
  expect(h.bootToBeTemplate && h.bootFromTemplate).toBe(false);
  if (h.bootToBeTemplate || h.bootFromTemplate) {
    expect(h.memoryPath).not.toBe('');
    expect(h.sharedFS).not.toBe('virtio-fs');
    expect(h.fileBackedMemRootDir).toBe('');
  }
  if (h.bootFromTemplate) expect(h.devicesStatePath).not.toBe('');
  if (h.enableVhostUserStore) expect(h.hugePages).toBe(true);
  if (h.sharedFS !== 'virtio-fs') expect(h.msize9p).toBeGreaterThan(0);
  expect(h.defaultBridges).toBeGreaterThanOrEqual(1);
  expect(h.defaultBridges).toBeLessThanOrEqual(5);
  expect(new Set(cfg.devices.map((d) => d.id)).size).toBe(cfg.devices.length);
  expect(Object.isFrozen(h)).toBe(true);
  expect(buildKernelParams(h).cmdline).toContain(`nr_cpus=${h.defaultMaxVCPUs}`);
}

describe('validateConfig (property)', () => {
  it('either returns a config meeting every invariant or throws a ConfigError whose issues point at real paths', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        let cfg: ValidatedConfig;
        try {
          cfg = validateConfig(input, {
            ...OPTS,
            defaults: { kernelPath: '/guest/vmlinuz', initrdPath: '/guest/initrd' },
          });
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          expect(err.code).toBe('ERR_CONFIG_INVALID');
          expect(err.issues.length).toBeGreaterThan(0);
          for (const issue of err.issues) {
            expect([issue.path, isRealPath(input, issue.path)]).toEqual([issue.path, true]);
            if (issue.path !== '') expect(issue.message).toContain(`\`${issue.path}`);
          }
          return;
        }
        checkInvariants(cfg);
      }),
      { numRuns: 1000 },
    );
  });

  it('finds valid configs often enough to exercise the success branch', () => {
    let ok = 0;
    fc.assert(
      fc.property(validishInput, (input) => {
        try {
          validateConfig(input, {
            ...OPTS,
            defaults: { kernelPath: '/guest/vmlinuz', initrdPath: '/guest/initrd' },
          });
          ok++;
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
        }
      }),
      { numRuns: 3000, seed: 42 },
    );
    expect(ok).toBeGreaterThan(150);
  });

  it('accepts, by the sandbox config zod schema and by its exported JSON Schema, every config validateConfig accepts', () => {
    const fromJson = z.fromJSONSchema(sandboxConfigJsonSchema() as Parameters<typeof z.fromJSONSchema>[0]);
    let accepted = 0;
    fc.assert(
      fc.property(anyInput, (input) => {
        try {
          validateConfig(input, {
            ...OPTS,
            defaults: { kernelPath: '/guest/vmlinuz', initrdPath: '/guest/initrd' },
          });
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          return;
        }
        accepted++;
        expect(sandboxConfigSchema.safeParse(input).success).toBe(true);
        expect(fromJson.safeParse(input).success).toBe(true);
      }),
      { numRuns: 1500, seed: 7 },
    );
    expect(accepted).toBeGreaterThan(50);
  });

  it('refuses in validateConfig every input the sandbox config zod schema refuses', () => {
    let refused = 0;
    fc.assert(
      fc.property(anyInput, (input) => {
        if (sandboxConfigSchema.safeParse(input).success) return;
        refused++;
        expect(() =>
          validateConfig(input, { ...OPTS, defaults: { kernelPath: '/k', initrdPath: '/i' } }),
        ).toThrow(ConfigError);
      }),
      { numRuns: 1500, seed: 11 },
    );
    expect(refused).toBeGreaterThan(100);
  });

  it('treats a normalized config as a fixed point', () => {
    fc.assert(
      fc.property(fc.oneof(sandboxInput, validishInput), (input) => {
        let cfg: ValidatedConfig;
        try {
          cfg = validateConfig(input, {
            ...OPTS,
            defaults: { kernelPath: '/guest/vmlinuz', initrdPath: '/guest/initrd' },
          });
        } catch {
          return;
        }
        expect(validateConfig(structuredClone(cfg), OPTS)).toEqual(cfg);
      }),
      { numRuns: 1500 },
    );
  });

  it('preserves commas, equals signs, spaces and quotes in values verbatim', () => {
    const value = fc.string({ unit: fc.constantFrom('a', ',', '=', ' ', '"', "'", '\\', 'é', '\t') });
    fc.assert(
      fc.property(value, value, fc.array(value, { maxLength: 3 }), (v, acc, args) => {
        const cfg = validateConfig(
          {
            id: 'q',
            hypervisor: {
              kernelPath: '/k',
              initrdPath: `/i${v}`,
              kernelParams: [{ key: 'k', value: v }],
              machineAccelerators: acc,
              cpuFeatures: v,
              virtioFSExtraArgs: args,
            },
          },
          OPTS,
        );
        expect(cfg.hypervisor.kernelParams).toEqual([{ key: 'k', value: v }]);
        expect(cfg.hypervisor.machineAccelerators).toBe(acc);
        expect(cfg.hypervisor.cpuFeatures).toBe(v);
        expect(cfg.hypervisor.virtioFSExtraArgs).toEqual(args);
        expect(cfg.hypervisor.initrdPath).toBe(`/i${v}`);
        const last = buildKernelParams(cfg.hypervisor).params.at(-1);
        expect(last).toEqual({ key: 'k', value: v });
      }),
    );
  });

  it('round-trips params through serializeParams and deserializeParams when keys have no "="', () => {
    const key = fc.string({ minLength: 1 }).filter((k) => !k.includes('='));
    fc.assert(
      fc.property(fc.array(fc.record({ key, value: fc.string() })), (ps) => {
        expect(deserializeParams(serializeParams(ps, '='))).toEqual(ps);
      }),
    );
  });
});
