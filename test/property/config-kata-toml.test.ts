import fc from 'fast-check';
import { stringify } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { KATA_IGNORED_KEYS, KATA_KEY_MAP, loadKataToml, parseKataToml } from '../../src/config/kata-toml.js';
import { HYPERVISOR_KEYS } from '../../src/config/validate.js';

const OPTS = { hostCpus: 4, hostMemoryMiB: 8192, arch: 'amd64' as const };

const knownKeys = [...Object.keys(KATA_KEY_MAP), ...Object.keys(KATA_IGNORED_KEYS)];
const tomlValue = fc.oneof(
  fc.boolean(),
  fc.integer({ min: -2, max: 5000 }),
  fc.constantFrom('/k', '/i', '/img', 'virtio-fs', 'virtio-9p', 'q35', 'a=1 b', '', 'x'),
  fc.array(fc.constantFrom('/a', '--x=1'), { maxLength: 2 }),
);
const qemuTable = fc.dictionary(
  fc.oneof(fc.constantFrom(...knownKeys), fc.stringMatching(/^[a-z_]{1,12}$/)),
  tomlValue,
  {
    maxKeys: 12,
  },
);
const document = fc.record({
  qemu: qemuTable,
  runtime: fc.dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), tomlValue, { maxKeys: 3 }),
});

describe('Kata TOML loader (property)', () => {
  it('accounts for every [hypervisor.qemu] key and either validates or throws ConfigError at real keys', () => {
    fc.assert(
      fc.property(document, ({ qemu, runtime }) => {
        const text = stringify({ hypervisor: { qemu: { kernel: '/k', initrd: '/i', ...qemu } }, runtime });
        const present = new Set(['kernel', 'initrd', ...Object.keys(qemu)]);
        let ignored: readonly { key: string }[];
        try {
          ignored = loadKataToml(text, OPTS).ignoredKeys;
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          for (const { path } of err.issues) {
            const m = /^hypervisor\.qemu\.([a-z0-9_]+)/.exec(path);
            const ok =
              (m !== null && present.has(m[1] as string)) ||
              (HYPERVISOR_KEYS as readonly string[]).includes(path.replace(/^hypervisor\./, ''));
            expect([path, ok]).toEqual([path, true]);
          }
          return;
        }
        const reported = new Set(ignored.map((w) => w.key));
        for (const key of present) {
          expect([key, key in KATA_KEY_MAP || reported.has(`hypervisor.qemu.${key}`)]).toEqual([key, true]);
        }
        for (const key of Object.keys(runtime)) expect(reported).toContain(`runtime.${key}`);
      }),
      { numRuns: 500 },
    );
  });

  it('never returns ill-typed values from parseKataToml', () => {
    fc.assert(
      fc.property(qemuTable, (qemu) => {
        try {
          const { config } = parseKataToml(stringify({ hypervisor: { qemu } }), OPTS);
          const h = config.hypervisor ?? {};
          if (h.memorySize !== undefined) expect(Number.isInteger(h.memorySize)).toBe(true);
          if (h.debug !== undefined) expect(typeof h.debug).toBe('boolean');
          if (h.kernelParams !== undefined) expect(Array.isArray(h.kernelParams)).toBe(true);
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
        }
      }),
      { numRuns: 500 },
    );
  });
});
