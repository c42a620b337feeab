import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import type { ValidateOptions } from '../../src/config/validate.js';
import { HYPERVISOR_KEYS, validateConfig } from '../../src/config/validate.js';
import { VmactorError } from '../../src/errors/vmactor-error.js';

const HOST: ValidateOptions = { hostCpus: 8, hostMemoryMiB: 16384, arch: 'amd64' };
const ASSETS = { kernelPath: '/guest/vmlinuz', initrdPath: '/guest/initrd.img' };

function valid(hypervisor: Record<string, unknown> = {}, extra: Record<string, unknown> = {}, opts = HOST) {
  return validateConfig({ id: 'sb-1', hypervisor: { ...ASSETS, ...hypervisor }, ...extra }, opts);
}

function issuesOf(input: unknown, opts: ValidateOptions = HOST): { path: string; message: string }[] {
  try {
    validateConfig(input, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).issues];
  }
  throw new Error('expected a ConfigError');
}

function issuesWith(hypervisor: Record<string, unknown>, extra: Record<string, unknown> = {}, opts = HOST) {
  return issuesOf({ id: 'sb-1', hypervisor: { ...ASSETS, ...hypervisor }, ...extra }, opts);
}

const paths = (issues: { path: string }[]) => issues.map((i) => i.path);

describe('defaults', () => {
  const h = valid().hypervisor;

  it('gives one vCPU, as the seeds defaultVCPUs', () => expect(h.numVCPUs).toBe(1));
  it('gives 2048 MiB of memory, as the seeds defaultMemSzMiB', () => expect(h.memorySize).toBe(2048));
  it('gives one PCI bridge, as the seeds defaultBridges', () => expect(h.defaultBridges).toBe(1));
  it('uses virtio-scsi as the block driver, as the seeds defaultBlockDriver', () =>
    expect(h.blockDeviceDriver).toBe('virtio-scsi'));
  it('sets defaultMaxVCPUs to the host CPU count', () => expect(h.defaultMaxVCPUs).toBe(8));
  it('caps the default defaultMaxVCPUs at 240 on amd64 (MaxQemuVCPUs)', () =>
    expect(valid({}, {}, { ...HOST, hostCpus: 512 }).hypervisor.defaultMaxVCPUs).toBe(240));
  it('caps the default defaultMaxVCPUs at 248 on s390x', () =>
    expect(valid({ arch: 's390x' }, {}, { ...HOST, hostCpus: 512 }).hypervisor.defaultMaxVCPUs).toBe(248));
  it('sets msize9p to 8192 with virtio-9p', () => expect(h.msize9p).toBe(8192));
  it('leaves msize9p at 0 with virtio-fs, as valid() does', () =>
    expect(valid({ sharedFS: 'virtio-fs' }).hypervisor.msize9p).toBe(0));
  it('keeps virtio-9p as the shared file system, as the seeds say', () =>
    expect(h.sharedFS).toBe('virtio-9p'));
  it('uses qemu-system-x86_64 and q35 on amd64', () => {
    expect(h.hypervisorPath).toBe('qemu-system-x86_64');
    expect(h.hypervisorMachineType).toBe('q35');
  });
  it('uses the Debian binary and the Kata machine type on every other arch', () => {
    expect(valid({ arch: 'arm64' }).hypervisor).toMatchObject({
      hypervisorPath: 'qemu-system-aarch64',
      hypervisorMachineType: 'virt',
    });
    expect(valid({ arch: 'ppc64le' }).hypervisor).toMatchObject({
      hypervisorPath: 'qemu-system-ppc64',
      hypervisorMachineType: 'pseries',
    });
    expect(valid({ arch: 's390x' }).hypervisor).toMatchObject({
      hypervisorPath: 'qemu-system-s390x',
      hypervisorMachineType: 's390-ccw-virtio',
    });
  });
  it('gives 10 memory slots, as Kata does', () => expect(h.memSlots).toBe(10));
  it('gives no PCIe root ports', () => expect(h.pcieRootPort).toBe(0));
  it('uses the auto virtiofsd cache and no DAX window', () => {
    expect(h.virtioFSCache).toBe('auto');
    expect(h.virtioFSCacheSize).toBe(0);
  });
  it('uses /dev/urandom as the entropy source', () => expect(h.entropySource).toBe('/dev/urandom'));
  it('turns every boolean off', () => {
    for (const key of HYPERVISOR_KEYS) {
      const value = h[key];
      if (typeof value === 'boolean') expect([key, value]).toEqual([key, false]);
    }
  });
  it('omits seccompSandbox unless given', () => expect('seccompSandbox' in h).toBe(false));
  it('treats 0 as unset for vCPUs, memory and bridges, as valid() does', () => {
    const z = valid({ numVCPUs: 0, memorySize: 0, defaultBridges: 0, defaultMaxVCPUs: 0 }).hypervisor;
    expect([z.numVCPUs, z.memorySize, z.defaultBridges, z.defaultMaxVCPUs]).toEqual([1, 2048, 1, 8]);
  });
  it('takes kernel and initrd from opts.defaults when the config gives none', () => {
    const cfg = validateConfig({ id: 'x' }, { ...HOST, defaults: ASSETS });
    expect(cfg.hypervisor.kernelPath).toBe('/guest/vmlinuz');
    expect(cfg.hypervisor.initrdPath).toBe('/guest/initrd.img');
  });
  it('prefers the config’s image over the default initrd', () => {
    const cfg = validateConfig(
      { id: 'x', hypervisor: { kernelPath: '/k', imagePath: '/img' } },
      { ...HOST, defaults: ASSETS },
    );
    expect([cfg.hypervisor.imagePath, cfg.hypervisor.initrdPath]).toEqual(['/img', '']);
  });
  it('maps virtio-blk to virtio-blk-ccw on s390x, as Kata’s loader does', () =>
    expect(valid({ arch: 's390x', blockDeviceDriver: 'virtio-blk' }).hypervisor.blockDeviceDriver).toBe(
      'virtio-blk-ccw',
    ));
  it('returns a deeply frozen config', () => {
    const cfg = valid({ kernelParams: [{ key: 'a', value: 'b' }] });
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.hypervisor.kernelParams)).toBe(true);
  });
  it('accepts kernelParams as a space-separated string', () =>
    expect(valid({ kernelParams: 'a=1 quiet b=x=y' }).hypervisor.kernelParams).toEqual([
      { key: 'a', value: '1' },
      { key: 'quiet', value: '' },
      { key: 'b', value: 'x=y' },
    ]));
  it('keeps commas, equals signs, spaces and quotes in values verbatim', () => {
    const value = 'a,b=c "d e" \'f\'';
    expect(valid({ kernelParams: [{ key: 'k', value }] }).hypervisor.kernelParams[0]?.value).toBe(value);
    expect(valid({ machineAccelerators: 'nvdimm=on,x=y,,z' }).hypervisor.machineAccelerators).toBe(
      'nvdimm=on,x=y,,z',
    );
  });
});

describe('rules', () => {
  it('requires a kernel', () => {
    const issues = issuesOf({ id: 'a', hypervisor: { initrdPath: '/i' } });
    expect(issues).toEqual([
      {
        path: 'hypervisor.kernelPath',
        message: 'Expected `hypervisor.kernelPath` to be an absolute path to the guest kernel, got nothing',
      },
    ]);
  });
  it('requires an image or an initrd', () =>
    expect(paths(issuesOf({ id: 'a', hypervisor: { kernelPath: '/k' } }))).toEqual(['hypervisor.imagePath']));
  it('refuses an image and an initrd together', () =>
    expect(paths(issuesWith({ imagePath: '/img' }))).toEqual(['hypervisor.initrdPath']));
  it('refuses booting both to be and from a template', () =>
    expect(
      paths(
        issuesWith({
          bootToBeTemplate: true,
          bootFromTemplate: true,
          memoryPath: '/m',
          devicesStatePath: '/d',
        }),
      ),
    ).toEqual(['hypervisor.bootFromTemplate']));
  it('requires memoryPath for a template', () =>
    expect(paths(issuesWith({ bootToBeTemplate: true }))).toEqual(['hypervisor.memoryPath']));
  it('requires devicesStatePath to boot from a template', () =>
    expect(paths(issuesWith({ bootFromTemplate: true, memoryPath: '/m' }))).toEqual([
      'hypervisor.devicesStatePath',
    ]));
  it('accepts a complete template config', () =>
    expect(
      valid({ bootFromTemplate: true, memoryPath: '/m', devicesStatePath: '/d' }).hypervisor.bootFromTemplate,
    ).toBe(true));
  it('refuses virtio-fs with templating', () =>
    expect(paths(issuesWith({ bootToBeTemplate: true, memoryPath: '/m', sharedFS: 'virtio-fs' }))).toEqual([
      'hypervisor.sharedFS',
    ]));
  it('refuses file-backed memory with templating', () =>
    expect(
      paths(issuesWith({ bootToBeTemplate: true, memoryPath: '/m', fileBackedMemRootDir: '/dev/shm' })),
    ).toEqual(['hypervisor.fileBackedMemRootDir']));
  it('refuses an image with templating, as Kata’s factory requires an initrd', () =>
    expect(
      paths(
        issuesOf({
          id: 'a',
          hypervisor: { kernelPath: '/k', imagePath: '/img', bootToBeTemplate: true, memoryPath: '/m' },
        }),
      ),
    ).toEqual(['hypervisor.imagePath']));
  it('refuses the vhost-user store without huge pages', () =>
    expect(paths(issuesWith({ enableVhostUserStore: true }))).toEqual(['hypervisor.enableVhostUserStore']));
  it('accepts the vhost-user store with huge pages', () =>
    expect(valid({ enableVhostUserStore: true, hugePages: true }).hypervisor.enableVhostUserStore).toBe(
      true,
    ));
  it('refuses memory below MinHypervisorMemory with an execa-style message', () =>
    expect(issuesWith({ memorySize: 128 })).toEqual([
      {
        path: 'hypervisor.memorySize',
        message: 'Expected `hypervisor.memorySize` to be an integer ≥ 256 (MiB), got `128`',
      },
    ]));
  it('accepts exactly 256 MiB', () => expect(valid({ memorySize: 256 }).hypervisor.memorySize).toBe(256));
  it('refuses more memory than the host has', () =>
    expect(paths(issuesWith({ memorySize: 32768 }))).toEqual(['hypervisor.memorySize']));
  it('refuses more vCPUs than defaultMaxVCPUs', () =>
    expect(paths(issuesWith({ numVCPUs: 5, defaultMaxVCPUs: 4 }))).toEqual(['hypervisor.numVCPUs']));
  it('refuses defaultMaxVCPUs above the arch’s MaxQemuVCPUs', () =>
    expect(paths(issuesWith({ defaultMaxVCPUs: 241 }))).toEqual(['hypervisor.defaultMaxVCPUs']));
  it('refuses more than five bridges', () =>
    expect(paths(issuesWith({ defaultBridges: 6 }))).toEqual(['hypervisor.defaultBridges']));
  it('refuses a machine type the arch does not have', () =>
    expect(paths(issuesWith({ hypervisorMachineType: 'virt' }))).toEqual([
      'hypervisor.hypervisorMachineType',
    ]));
  it('refuses virtio-blk-ccw off s390x', () =>
    expect(paths(issuesWith({ blockDeviceDriver: 'virtio-blk-ccw' }))).toEqual([
      'hypervisor.blockDeviceDriver',
    ]));
  it('refuses PCIe root ports on the pc machine', () =>
    expect(paths(issuesWith({ hypervisorMachineType: 'pc', pcieRootPort: 2 }))).toEqual([
      'hypervisor.pcieRootPort',
    ]));
  it('refuses a malformed -sandbox value', () =>
    expect(paths(issuesWith({ seccompSandbox: 'on;rm -rf' }))).toEqual(['hypervisor.seccompSandbox']));
  it('accepts a -sandbox policy', () =>
    expect(valid({ seccompSandbox: 'on,obsolete=deny,spawn=deny' }).hypervisor.seccompSandbox).toBe(
      'on,obsolete=deny,spawn=deny',
    ));
  it('refuses an unknown virtiofsd cache mode', () =>
    expect(paths(issuesWith({ virtioFSCache: 'sometimes' }))).toEqual(['hypervisor.virtioFSCache']));
  it('refuses relative asset paths', () =>
    expect(paths(issuesWith({ kernelPath: 'vmlinuz' }))).toEqual(['hypervisor.kernelPath']));
  it('accepts a bare command name or an absolute path for QEMU but not a relative path', () => {
    expect(valid({ hypervisorPath: '/opt/qemu/bin/qemu-system-x86_64' }).hypervisor.hypervisorPath).toBe(
      '/opt/qemu/bin/qemu-system-x86_64',
    );
    expect(paths(issuesWith({ hypervisorPath: 'bin/qemu' }))).toEqual(['hypervisor.hypervisorPath']);
  });
  it('refuses negative, fractional and string numbers', () =>
    expect(paths(issuesWith({ numVCPUs: -1, memSlots: 1.5, memOffset: '3' }))).toEqual([
      'hypervisor.numVCPUs',
      'hypervisor.memSlots',
      'hypervisor.memOffset',
    ]));
  it('refuses non-boolean flags', () =>
    expect(paths(issuesWith({ debug: 'yes' }))).toEqual(['hypervisor.debug']));
  it('refuses a kernel parameter with an empty key, as AddKernelParam does', () =>
    expect(paths(issuesWith({ kernelParams: [{ key: '', value: 'x' }] }))).toEqual([
      'hypervisor.kernelParams[0].key',
    ]));
  it('refuses NUL bytes, which cannot travel in an argv', () =>
    expect(paths(issuesWith({ cpuFeatures: 'pmu=off\0' }))).toEqual(['hypervisor.cpuFeatures']));
  it('reports unknown hypervisor keys with their path', () => {
    const issues = issuesWith({ memory: 512 });
    expect(paths(issues)).toEqual(['hypervisor.memory']);
    expect(issues[0]?.message).toBe('Unknown key `hypervisor.memory`; did you mean `memorySize`?');
  });
  it('reports unknown top-level keys', () =>
    expect(paths(issuesWith({}, { extra: true }))).toEqual(['extra']));
  it('suggests the camelCase twin of a snake_case key', () =>
    expect(issuesWith({ num_vcpus: 2 })[0]?.message).toBe(
      'Unknown key `hypervisor.num_vcpus`; did you mean `numVCPUs`?',
    ));
  it('lists the few known keys of a small object', () =>
    expect(issuesWith({}, { devices: [{ kind: 'rng', id: 'r', zzzzzz: 1 }] })[0]?.message).toBe(
      'Unknown key `devices[0].zzzzzz`; known keys: kind, id, path',
    ));
  it('refuses a non-object config', () => expect(paths(issuesOf('nope'))).toEqual(['']));
  it('reports a non-object hypervisor once, without rule noise', () =>
    expect(paths(issuesOf({ id: 'a', hypervisor: 'qemu' }))).toEqual(['hypervisor']));
  it('does not call a kernel missing when the given one is invalid', () =>
    expect(paths(issuesWith({ kernelPath: 3 }))).toEqual(['hypervisor.kernelPath']));
  it('lists every problem at once in one ConfigError', () => {
    try {
      validateConfig({ id: '-bad', hypervisor: { memorySize: 1, debug: 1, nope: 1 }, devices: 'x' }, HOST);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(VmactorError);
      const e = err as ConfigError;
      expect(e.code).toBe('ERR_CONFIG_INVALID');
      expect(e.name).toBe('ConfigError');
      expect(paths([...e.issues]).sort()).toEqual(
        [
          'id',
          'hypervisor.memorySize',
          'hypervisor.debug',
          'hypervisor.nope',
          'hypervisor.kernelPath',
          'hypervisor.imagePath',
          'devices',
        ].sort(),
      );
      expect(e.message).toContain('7 problems');
    }
  });
});

describe('sandbox ids', () => {
  it.each(['a', 'A9', 'web-1', 'x_y.z', 'a'.repeat(64)])('accepts %j', (id) =>
    expect(validateConfig({ id, hypervisor: ASSETS }, HOST).id).toBe(id),
  );
  it.each(['', '-a', '.a', '_a', 'a/b', 'a..b', 'a'.repeat(65), 'é', 'a b', 'a\n', 7])('refuses %j', (id) =>
    expect(paths(issuesOf({ id, hypervisor: ASSETS }))).toEqual(['id']),
  );
  it('requires an id', () => expect(paths(issuesOf({ hypervisor: ASSETS }))).toEqual(['id']));
});

describe('devices', () => {
  const dev = (...devices: unknown[]) => ({ devices });
  it('accepts one of each kind', () => {
    const cfg = valid(
      {},
      dev(
        {
          kind: 'block',
          id: 'disk0',
          file: '/var/lib/a.img',
          readOnly: true,
          aio: 'io_uring',
          cache: { direct: true, noFlush: false },
          driver: 'virtio-blk',
        },
        { kind: 'net', id: 'net0', ifname: 'tap0', mac: '02:00:00:00:00:01', queues: 2, vhost: false },
        { kind: 'net', id: 'net1', fds: [5, 6], vhostFds: [7, 8], queues: 2 },
        {
          kind: 'fs',
          type: 'virtio-fs',
          id: 'fs0',
          tag: 'kataShared',
          sharedDir: '/srv/share',
          cache: 'auto',
          extraArgs: ['-o', 'x,y'],
        },
        {
          kind: 'fs',
          type: 'virtio-9p',
          id: 'fs1',
          tag: 'p9',
          path: '/srv/p9',
          securityModel: 'mapped-xattr',
        },
        { kind: 'vhost-user', type: 'blk', id: 'vub0', socketPath: '/run/spdk/vub0.sock' },
        { kind: 'vhost-user', type: 'fs', id: 'vuf0', socketPath: '/run/vfs.sock', tag: 'myfs' },
        { kind: 'vfio', id: 'gpu0', bdf: '0000:01:00.0' },
        { kind: 'vfio', id: 'mdev0', sysfsDev: '/sys/bus/mdev/devices/0a1b', mediated: true },
        { kind: 'vsock', id: 'vsock0', contextId: 3 },
        { kind: 'rng', id: 'rng0', path: '/dev/urandom' },
      ),
    );
    expect(cfg.devices.map((d) => d.id)).toEqual([
      'disk0',
      'net0',
      'net1',
      'fs0',
      'fs1',
      'vub0',
      'vuf0',
      'gpu0',
      'mdev0',
      'vsock0',
      'rng0',
    ]);
  });
  it('points at the failing field of the failing device', () =>
    expect(
      issuesWith({}, dev({ kind: 'rng', id: 'r' }, { kind: 'block', id: 'd', file: 'rel.img' })),
    ).toEqual([
      {
        path: 'devices[1].file',
        message: 'Expected `devices[1].file` to be an absolute path, got `"rel.img"`',
      },
    ]));
  it('requires the fields each kind needs', () =>
    expect(
      paths(
        issuesWith(
          {},
          dev(
            { kind: 'block', id: 'd' },
            { kind: 'vhost-user', id: 'v', type: 'blk' },
            { kind: 'fs', type: 'virtio-fs', id: 'f' },
          ),
        ),
      ),
    ).toEqual(['devices[0].file', 'devices[1].socketPath', 'devices[2].tag', 'devices[2].sharedDir']));
  it('refuses an unknown kind', () =>
    expect(paths(issuesWith({}, dev({ kind: 'gpu', id: 'g' })))).toEqual(['devices[0].kind']));
  it('refuses an unknown fs type', () =>
    expect(paths(issuesWith({}, dev({ kind: 'fs', type: 'nfs', id: 'g' })))).toEqual(['devices[0].type']));
  it('reports unknown device keys', () =>
    expect(paths(issuesWith({}, dev({ kind: 'rng', id: 'r', bogus: 1 })))).toEqual(['devices[0].bogus']));
  it('refuses duplicate device ids', () =>
    expect(paths(issuesWith({}, dev({ kind: 'rng', id: 'r' }, { kind: 'rng', id: 'r' })))).toEqual([
      'devices[1].id',
    ]));
  it('refuses duplicate vsock context ids', () =>
    expect(
      paths(
        issuesWith(
          {},
          dev({ kind: 'vsock', id: 'a', contextId: 3 }, { kind: 'vsock', id: 'b', contextId: 3 }),
        ),
      ),
    ).toEqual(['devices[1].contextId']));
  it('refuses reserved vsock context ids', () =>
    expect(paths(issuesWith({}, dev({ kind: 'vsock', id: 'a', contextId: 2 })))).toEqual([
      'devices[0].contextId',
    ]));
  it('refuses device ids QEMU would refuse or that exceed 25 characters', () =>
    expect(
      paths(issuesWith({}, dev({ kind: 'rng', id: '0r' }, { kind: 'rng', id: `r${'x'.repeat(25)}` }))),
    ).toEqual(['devices[0].id', 'devices[1].id']));
  it('accepts a device id of exactly 25 characters (drive-<id> fits a 31-byte node name)', () =>
    expect(valid({}, dev({ kind: 'rng', id: `r${'x'.repeat(24)}` })).devices[0]?.id).toHaveLength(25));
  it('needs exactly one of ifname and fds on a net device', () => {
    expect(paths(issuesWith({}, dev({ kind: 'net', id: 'n' })))).toEqual(['devices[0].ifname']);
    expect(paths(issuesWith({}, dev({ kind: 'net', id: 'n', ifname: 'tap0', fds: [3] })))).toEqual([
      'devices[0].ifname',
    ]);
  });
  it('refuses a tap name longer than IFNAMSIZ', () =>
    expect(paths(issuesWith({}, dev({ kind: 'net', id: 'n', ifname: 'a'.repeat(16) })))).toEqual([
      'devices[0].ifname',
    ]));
  it('refuses a malformed MAC address', () =>
    expect(paths(issuesWith({}, dev({ kind: 'net', id: 'n', ifname: 't', mac: '02:00:00:00:00' })))).toEqual([
      'devices[0].mac',
    ]));
  it('needs one tap fd per queue', () =>
    expect(paths(issuesWith({}, dev({ kind: 'net', id: 'n', fds: [3], queues: 2 })))).toEqual([
      'devices[0].fds',
    ]));
  it('refuses a Unix socket path longer than 107 bytes', () =>
    expect(
      paths(
        issuesWith({}, dev({ kind: 'vhost-user', type: 'blk', id: 'v', socketPath: `/${'s'.repeat(107)}` })),
      ),
    ).toEqual(['devices[0].socketPath']));
  it('refuses vhost-user devices on s390x', () =>
    expect(
      paths(
        issuesWith({ arch: 's390x' }, dev({ kind: 'vhost-user', type: 'blk', id: 'v', socketPath: '/s' })),
      ),
    ).toEqual(['devices[0]']));
  it('needs a tag on a vhost-user fs device', () =>
    expect(paths(issuesWith({}, dev({ kind: 'vhost-user', type: 'fs', id: 'v', socketPath: '/s' })))).toEqual(
      ['devices[0].tag'],
    ));
  it('needs exactly one of bdf and sysfsDev on a VFIO device', () =>
    expect(paths(issuesWith({}, dev({ kind: 'vfio', id: 'v' })))).toEqual(['devices[0].bdf']));
  it('refuses a malformed PCI address', () =>
    expect(paths(issuesWith({}, dev({ kind: 'vfio', id: 'v', bdf: '01:00.8' })))).toEqual([
      'devices[0].bdf',
    ]));
  it('refuses a virtio-fs tag longer than 36 bytes', () =>
    expect(
      paths(
        issuesWith({}, dev({ kind: 'fs', type: 'virtio-fs', id: 'f', tag: 't'.repeat(37), sharedDir: '/s' })),
      ),
    ).toEqual(['devices[0].tag']));
  it('refuses a non-array devices value', () =>
    expect(paths(issuesWith({}, { devices: {} }))).toEqual(['devices']));
});

describe('devices through the one DeviceSpec schema', () => {
  const dev = (...devices: unknown[]) => ({ devices });
  it('lists the device kinds when the kind is unknown', () =>
    expect(issuesWith({}, dev({ kind: 'gpu', id: 'g' }))).toEqual([
      {
        path: 'devices[0].kind',
        message:
          'Expected `devices[0].kind` to be one of `block`, `net`, `fs`, `vhost-user`, `vfio`, `vsock`, `rng`, `balloon`, `pvpanic`, got `"gpu"`',
      },
    ]));
  it('says "got nothing" for a missing required field', () =>
    expect(issuesWith({}, dev({ kind: 'block', id: 'd' }))).toEqual([
      { path: 'devices[0].file', message: 'Expected `devices[0].file` to be set, got nothing' },
    ]));
  it('keeps the did-you-mean wording for an unknown key inside a nested object', () =>
    expect(issuesWith({}, dev({ kind: 'block', id: 'd', file: '/a', cache: { nflush: true } }))).toEqual([
      {
        path: 'devices[0].cache.nflush',
        message: 'Unknown key `devices[0].cache.nflush`; did you mean `noFlush`?',
      },
    ]));
  it('takes block cache as an object and refuses the old mode string', () => {
    expect(
      valid({}, dev({ kind: 'block', id: 'd', file: '/a', cache: { direct: true } })).devices[0],
    ).toEqual({
      kind: 'block',
      id: 'd',
      file: '/a',
      cache: { direct: true },
    });
    expect(issuesWith({}, dev({ kind: 'block', id: 'd', file: '/a', cache: 'none' }))).toEqual([
      {
        path: 'devices[0].cache',
        message: 'Expected `devices[0].cache` to be an object `{ direct?, noFlush? }`, got `"none"`',
      },
    ]);
  });
  it('accepts a vsock device without a contextId (allocated at launch)', () =>
    expect(valid({}, dev({ kind: 'vsock', id: 'v0' })).devices).toEqual([{ kind: 'vsock', id: 'v0' }]));
  it('accepts VFIO by sysfsDev and refuses both bdf and sysfsDev', () => {
    expect(
      valid({}, dev({ kind: 'vfio', id: 'm', sysfsDev: '/sys/bus/mdev/devices/u' })).devices,
    ).toHaveLength(1);
    expect(
      issuesWith(
        {},
        dev({ kind: 'vfio', id: 'v', bdf: '0000:01:00.0', sysfsDev: '/sys/bus/mdev/devices/u' }),
      ),
    ).toEqual([
      {
        path: 'devices[0].bdf',
        message:
          'Expected `devices[0].bdf` to be absent when `sysfsDev` is set (exactly one of the two), got `"0000:01:00.0"`',
      },
    ]);
  });
  it('refuses a second virtio-fs share (one virtiofsd per sandbox)', () =>
    expect(
      paths(
        issuesWith(
          {},
          dev(
            { kind: 'fs', type: 'virtio-fs', id: 'a', tag: 'a', sharedDir: '/a' },
            { kind: 'fs', type: 'virtio-9p', id: 'p', tag: 'p', path: '/p' },
            { kind: 'fs', type: 'virtio-fs', id: 'b', tag: 'b', sharedDir: '/b' },
          ),
        ),
      ),
    ).toEqual(['devices[2]']));
  it('refuses a second balloon and a second pvpanic device, which QEMU takes once', () =>
    expect(
      paths(
        issuesWith(
          {},
          dev(
            { kind: 'balloon', id: 'b0' },
            { kind: 'pvpanic', id: 'p0' },
            { kind: 'balloon', id: 'b1' },
            { kind: 'pvpanic', id: 'p1' },
          ),
        ),
      ),
    ).toEqual(['devices[2]', 'devices[3]']));
  it('takes pmem only on an nvdimm disk (by its driver or the hypervisor default)', () => {
    const disk = { kind: 'block', id: 'd', file: '/a', pmem: true };
    expect(paths(issuesWith({}, dev(disk)))).toEqual(['devices[0].pmem']);
    expect(valid({}, dev({ ...disk, driver: 'nvdimm' })).devices).toHaveLength(1);
    expect(valid({ blockDeviceDriver: 'nvdimm' }, dev(disk)).devices).toHaveLength(1);
  });
  it('refuses a virtio-fs share with VM templating', () =>
    expect(
      paths(
        issuesWith(
          { bootToBeTemplate: true, memoryPath: '/m' },
          dev({ kind: 'fs', type: 'virtio-fs', id: 'a', tag: 'a', sharedDir: '/a' }),
        ),
      ),
    ).toEqual(['devices[0]']));
  it('refuses virtio-blk-ccw disks off s390x and accepts them on s390x', () => {
    const disk = { kind: 'block', id: 'd', file: '/a', driver: 'virtio-blk-ccw' };
    expect(paths(issuesWith({}, dev(disk)))).toEqual(['devices[0].driver']);
    expect(valid({ arch: 's390x' }, dev(disk)).devices).toHaveLength(1);
  });
  it('lists problems of several devices and of the hypervisor in one ConfigError', () =>
    expect(
      paths(
        issuesWith(
          { memorySize: 1 },
          dev({ kind: 'net', id: 'n', ifname: 't', mac: 'x' }, { kind: 'rng', id: 'r', path: 'rel' }),
        ),
      ),
    ).toEqual(['hypervisor.memorySize', 'devices[0].mac', 'devices[1].path']));
});

describe('host arch', () => {
  it('reports an issue on hypervisor.arch on a host vmactor has no tables for, instead of assuming amd64', () =>
    expect(
      issuesOf({ id: 'a', hypervisor: ASSETS }, { ...HOST, arch: undefined, nodeArch: 'riscv64' }),
    ).toEqual([
      {
        path: 'hypervisor.arch',
        message:
          "Expected `hypervisor.arch` to be set explicitly (this host's `riscv64` has no QEMU tables), got nothing",
      },
    ]));
  it('accepts an explicit arch on such a host', () =>
    expect(
      validateConfig(
        { id: 'a', hypervisor: { ...ASSETS, arch: 'arm64' } },
        { ...HOST, arch: undefined, nodeArch: 'riscv64' },
      ).hypervisor.arch,
    ).toBe('arm64'));
  it('defaults to the host arch in Go names', () =>
    expect(
      validateConfig({ id: 'a', hypervisor: ASSETS }, { ...HOST, arch: undefined, nodeArch: 'x64' })
        .hypervisor.arch,
    ).toBe('amd64'));
});
