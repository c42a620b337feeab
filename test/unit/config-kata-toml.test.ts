import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { KATA_IGNORED_KEYS, KATA_KEY_MAP, loadKataToml, parseKataToml } from '../../src/config/kata-toml.js';

const FIXTURE = readFileSync(new URL('../fixtures/kata/configuration-qemu.toml', import.meta.url), 'utf8');
const OPTS = { hostCpus: 4, hostMemoryMiB: 8192, arch: 'amd64' as const };

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe("Kata's configuration-qemu.toml", () => {
  const { config, ignoredKeys } = loadKataToml(FIXTURE, { ...OPTS, id: 'kata-1' });

  it('maps the [hypervisor.qemu] assets and binary', () =>
    expect(config.hypervisor).toMatchObject({
      hypervisorPath: '/usr/bin/qemu-system-x86_64',
      kernelPath: '/usr/share/kata-containers/vmlinux.container',
      imagePath: '/usr/share/kata-containers/kata-containers.img',
      initrdPath: '',
      hypervisorMachineType: 'q35',
    }));
  it('maps sizes and counts, defaulting default_maxvcpus = 0 to the host CPUs', () =>
    expect(config.hypervisor).toMatchObject({
      numVCPUs: 1,
      defaultMaxVCPUs: 4,
      memorySize: 2048,
      defaultBridges: 1,
      memSlots: 10,
    }));
  it('maps virtio-fs settings', () =>
    expect(config.hypervisor).toMatchObject({
      sharedFS: 'virtio-fs',
      virtioFSDaemon: '/usr/libexec/kata-qemu/virtiofsd',
      virtioFSCache: 'auto',
      virtioFSCacheSize: 0,
      virtioFSExtraArgs: ['--thread-pool-size=1', '--announce-submounts'],
      msize9p: 0,
    }));
  it('maps cpu_features, block driver and vhost-user store path', () =>
    expect(config.hypervisor).toMatchObject({
      cpuFeatures: 'pmu=off',
      blockDeviceDriver: 'virtio-scsi',
      vhostUserStorePath: '/var/run/kata-containers/vhost-user',
      enableVhostUserStore: false,
      disableImageNvdimm: false,
    }));
  it('uses the given id', () => expect(config.id).toBe('kata-1'));
  it('reports the annotation allow-lists as ignored, with the reason', () =>
    expect(ignoredKeys).toContainEqual({
      key: 'hypervisor.qemu.valid_hypervisor_paths',
      kind: 'ignored',
      reason: 'annotation allow-list, not used by vmactor (it reads no annotations)',
    }));
  it('reports every key it does not map', () => {
    const reported = new Set(ignoredKeys.map((w) => w.key));
    for (const key of [
      'hypervisor.qemu.rootfs_type',
      'hypervisor.qemu.enable_annotations',
      'hypervisor.qemu.firmware_volume',
      'hypervisor.qemu.default_maxmemory',
      'hypervisor.qemu.virtio_fs_queue_size',
      'hypervisor.qemu.block_device_aio',
      'hypervisor.qemu.vhost_user_reconnect_timeout_sec',
      'hypervisor.qemu.disable_selinux',
      'runtime.sandbox_cgroup_only',
      'agent.kata.dial_timeout',
    ]) {
      expect(reported).toContain(key);
    }
  });
  it('reports no key of [hypervisor.qemu] as unknown', () =>
    expect(ignoredKeys.filter((w) => w.kind === 'unknown')).toEqual([]));
  it('accounts for every [hypervisor.qemu] key: mapped or reported', () => {
    const qemuKeys = [...FIXTURE.matchAll(/^([a-z0-9_]+)\s*=/gm)].map((m) => m[1] as string);
    const section = FIXTURE.slice(0, FIXTURE.indexOf('[factory]'));
    const inQemu = [...section.matchAll(/^([a-z0-9_]+)\s*=/gm)].map((m) => m[1] as string);
    expect(qemuKeys.length).toBeGreaterThan(inQemu.length);
    for (const key of inQemu) {
      const mapped = key in KATA_KEY_MAP;
      const ignored = ignoredKeys.some((w) => w.key === `hypervisor.qemu.${key}`);
      expect([key, mapped || ignored]).toEqual([key, true]);
    }
  });
});

describe('parseKataToml', () => {
  it('reports truly unknown keys as unknown, never dropping them silently', () => {
    const { ignoredKeys } = parseKataToml('[hypervisor.qemu]\nkernel = "/k"\nflux_capacitor = true\n', OPTS);
    expect(ignoredKeys).toEqual([
      {
        key: 'hypervisor.qemu.flux_capacitor',
        kind: 'unknown',
        reason: 'unknown Kata [hypervisor.qemu] key; not used',
      },
    ]);
  });
  it('reports other hypervisors’ sections as ignored', () =>
    expect(parseKataToml('[hypervisor.qemu]\n[hypervisor.clh]\npath = "/x"\n', OPTS).ignoredKeys).toEqual([
      { key: 'hypervisor.clh.path', kind: 'ignored', reason: 'vmactor drives QEMU only' },
    ]));
  it('maps default_vcpus = -1 to all host CPUs', () => {
    const r = parseKataToml('[hypervisor.qemu]\ndefault_vcpus = -1\n', OPTS);
    expect(r.config.hypervisor?.numVCPUs).toBe(4);
    expect(r.ignoredKeys[0]).toMatchObject({ key: 'hypervisor.qemu.default_vcpus', kind: 'adjusted' });
  });
  it('clamps default_vcpus above the host CPUs, as Kata does', () =>
    expect(parseKataToml('[hypervisor.qemu]\ndefault_vcpus = 64\n', OPTS).config.hypervisor?.numVCPUs).toBe(
      4,
    ));
  it('clamps default_bridges above five, as Kata does', () =>
    expect(
      parseKataToml('[hypervisor.qemu]\ndefault_bridges = 9\n', OPTS).config.hypervisor?.defaultBridges,
    ).toBe(5));
  it('clamps default_maxvcpus above the host CPUs', () =>
    expect(
      parseKataToml('[hypervisor.qemu]\ndefault_maxvcpus = 300\n', OPTS).config.hypervisor?.defaultMaxVCPUs,
    ).toBe(4));
  it('maps kernel_params as a parameter string', () => {
    const { config } = loadKataToml(
      '[hypervisor.qemu]\nkernel="/k"\ninitrd="/i"\nkernel_params = " a=1 b=c,d=e quiet "\n',
      OPTS,
    );
    expect(config.hypervisor.kernelParams).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: 'c,d=e' },
      { key: 'quiet', value: '' },
    ]);
  });
  it('returns kernel_params as Param[] already, as the SandboxConfig type says', () =>
    expect(
      parseKataToml('[hypervisor.qemu]\nkernel_params = "a=1  quiet"\n', OPTS).config.hypervisor
        ?.kernelParams,
    ).toEqual([
      { key: 'a', value: '1' },
      { key: 'quiet', value: '' },
    ]));
  it('points a bad kernel_params entry at the TOML key', () =>
    expect(
      errorOf(() =>
        loadKataToml('[hypervisor.qemu]\nkernel="/k"\ninitrd="/i"\nkernel_params = "=x"\n', OPTS),
      ).issues.map((i) => i.path),
    ).toEqual(['hypervisor.qemu.kernel_params[0].key']));
  it('type-checks mapped values at parse time, pointing at the TOML key', () =>
    expect(
      errorOf(() => parseKataToml('[hypervisor.qemu]\ndefault_memory = "2048"\nenable_debug = 1\n', OPTS))
        .issues,
    ).toEqual([
      {
        path: 'hypervisor.qemu.default_memory',
        message: 'Expected `hypervisor.qemu.default_memory` to be an integer ≥ 256 (MiB), got `"2048"`',
      },
      {
        path: 'hypervisor.qemu.enable_debug',
        message: 'Expected `hypervisor.qemu.enable_debug` to be a boolean, got `1`',
      },
    ]));
  it('maps seccompsandbox to the -sandbox policy', () =>
    expect(
      loadKataToml('[hypervisor.qemu]\nkernel="/k"\ninitrd="/i"\nseccompsandbox="on,obsolete=deny"\n', OPTS)
        .config.hypervisor.seccompSandbox,
    ).toBe('on,obsolete=deny'));
  it('refuses a file without [hypervisor.qemu]', () =>
    expect(errorOf(() => parseKataToml('[hypervisor.clh]\npath="/x"\n', OPTS)).issues).toEqual([
      { path: 'hypervisor.qemu', message: 'Expected a `[hypervisor.qemu]` table, got nothing' },
    ]));
  it('turns a TOML syntax error into a ConfigError with the line', () => {
    const e = errorOf(() => parseKataToml('[hypervisor.qemu]\ndefault_memory = @DEFMEMSZ@\n', OPTS));
    expect(e.issues[0]?.message).toMatch(/^Expected valid TOML, got .* at line 2/);
    expect(e.cause).toBeDefined();
  });
  it('points validation issues at the TOML keys', () => {
    const e = errorOf(() =>
      loadKataToml(
        '[hypervisor.qemu]\nkernel="/k"\ninitrd="/i"\ndefault_memory = 64\nshared_fs = "virtio-fs-nydus"\n',
        OPTS,
      ),
    );
    expect(e.issues).toEqual([
      {
        path: 'hypervisor.qemu.shared_fs',
        message:
          'Expected `hypervisor.qemu.shared_fs` to be one of `virtio-9p`, `virtio-fs`, `none`, got `"virtio-fs-nydus"`',
      },
      {
        path: 'hypervisor.qemu.default_memory',
        message: 'Expected `hypervisor.qemu.default_memory` to be an integer ≥ 256 (MiB), got `64`',
      },
    ]);
  });
  it('keeps paths of rules without a TOML key as vmactor paths', () =>
    expect(
      errorOf(() => loadKataToml('[hypervisor.qemu]\ninitrd="/i"\n', OPTS)).issues.map((i) => i.path),
    ).toEqual(['hypervisor.kernelPath']));
  it('gives every ignored key a reason', () => {
    for (const [key, reason] of Object.entries(KATA_IGNORED_KEYS))
      expect([key, reason.length > 10]).toEqual([key, true]);
  });
  it('never maps and ignores the same key', () => {
    for (const key of Object.keys(KATA_IGNORED_KEYS)) expect(KATA_KEY_MAP[key]).toBeUndefined();
  });
});
