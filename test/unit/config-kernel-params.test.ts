import { describe, expect, it } from 'vitest';
import {
  ARCH_KERNEL_PARAMS,
  buildKernelParams,
  deserializeParams,
  NVDIMM_NO_DAX_ROOT_PARAMS,
  rootParams,
  serializeParams,
} from '../../src/config/kernel-params.js';
import type { Arch, HypervisorConfig } from '../../src/config/types.js';
import { validateConfig } from '../../src/config/validate.js';

const HOST = { hostCpus: 4, hostMemoryMiB: 8192 };

function config(hypervisor: Record<string, unknown>): HypervisorConfig {
  return validateConfig({ id: 'k', hypervisor: { kernelPath: '/k', ...hypervisor } }, HOST).hypervisor;
}

const AMD64 =
  'tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 ' +
  'i8042.noaux=1 noreplace-smp reboot=k console=hvc0 console=hvc1 cryptomgr.notests net.ifnames=0 pci=lastbus=0';

describe('serializeParams (seeds SerializeParams)', () => {
  it('joins key and value with the delimiter', () =>
    expect(
      serializeParams(
        [
          { key: 'param1', value: 'value1' },
          { key: 'param2', value: 'value2' },
        ],
        '=',
      ),
    ).toEqual(['param1=value1', 'param2=value2']));
  it('skips a param with neither key nor value', () =>
    expect(serializeParams([{ key: '', value: '' }], '=')).toEqual([]));
  it('emits the value alone when the key is empty', () =>
    expect(serializeParams([{ key: '', value: 'v' }], '=')).toEqual(['v']));
  it('emits the key alone when the value is empty', () =>
    expect(serializeParams([{ key: 'quiet', value: '' }], '=')).toEqual(['quiet']));
  it('emits key and value as two entries when the delimiter is empty', () =>
    expect(serializeParams([{ key: '-device', value: 'virtio-rng' }], '')).toEqual([
      '-device',
      'virtio-rng',
    ]));
  it('uses any delimiter verbatim', () =>
    expect(serializeParams([{ key: 'a', value: 'b' }], ': ')).toEqual(['a: b']));
  it('keeps commas, equals signs, spaces and quotes in values', () =>
    expect(serializeParams([{ key: 'rootflags', value: 'dax,data=ordered "x y"' }], '=')).toEqual([
      'rootflags=dax,data=ordered "x y"',
    ]));
  it('returns an empty list for no params', () => expect(serializeParams([], '=')).toEqual([]));
});

describe('deserializeParams (seeds DeserializeParams)', () => {
  it('splits key=value', () =>
    expect(deserializeParams(['param1=value1', 'param2=value2'])).toEqual([
      { key: 'param1', value: 'value1' },
      { key: 'param2', value: 'value2' },
    ]));
  it('skips empty strings', () =>
    expect(deserializeParams(['', 'a=b', ''])).toEqual([{ key: 'a', value: 'b' }]));
  it('gives an empty value to a bare key', () =>
    expect(deserializeParams(['quiet'])).toEqual([{ key: 'quiet', value: '' }]));
  it('splits at the first equals sign only', () =>
    expect(deserializeParams(['pci=lastbus=0'])).toEqual([{ key: 'pci', value: 'lastbus=0' }]));
  it('keeps an empty key when the string starts with an equals sign', () =>
    expect(deserializeParams(['=v'])).toEqual([{ key: '', value: 'v' }]));
  it('keeps an empty value after a trailing equals sign', () =>
    expect(deserializeParams(['k='])).toEqual([{ key: 'k', value: '' }]));
  it('round-trips through serializeParams with "="', () => {
    const strings = ['a=b', 'quiet', 'x=y=z', 'c=d,e f'];
    expect(serializeParams(deserializeParams(strings), '=')).toEqual(strings);
  });
});

describe('buildKernelParams', () => {
  it('builds the amd64 initrd command line: arch params, quiet, panic, nr_cpus, agent.use_vsock', () =>
    expect(buildKernelParams(config({ initrdPath: '/i' })).cmdline).toBe(
      `${AMD64} quiet panic=1 nr_cpus=4 agent.use_vsock=false`,
    ));
  it('adds nvdimm DAX root params and systemd quiet params with an image on amd64', () =>
    expect(buildKernelParams(config({ imagePath: '/img' })).cmdline).toBe(
      `${AMD64} root=/dev/pmem0p1 rootflags=dax,data=ordered,errors=remount-ro ro rootfstype=ext4 ` +
        'quiet systemd.show_status=false panic=1 nr_cpus=4 agent.use_vsock=false',
    ));
  it('uses virtio-blk root params when the image nvdimm is disabled', () =>
    expect(buildKernelParams(config({ imagePath: '/img', disableImageNvdimm: true })).cmdline).toContain(
      'root=/dev/vda1 rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4 quiet',
    ));
  it('uses debug params instead of quiet in debug mode', () => {
    const line = buildKernelParams(config({ initrdPath: '/i', debug: true })).cmdline;
    expect(line).toContain(' debug panic=1');
    expect(line).not.toContain('quiet');
  });
  it('adds systemd debug params with an image in debug mode', () =>
    expect(buildKernelParams(config({ imagePath: '/img', debug: true })).cmdline).toContain(
      'debug systemd.show_status=true systemd.log_level=debug panic=1',
    ));
  it('adds intel_iommu=on iommu=pt on amd64 with a vIOMMU', () =>
    expect(buildKernelParams(config({ initrdPath: '/i', iommu: true })).cmdline).toContain(
      'pci=lastbus=0 intel_iommu=on iommu=pt quiet',
    ));
  it('sets nr_cpus to defaultMaxVCPUs', () =>
    expect(buildKernelParams(config({ initrdPath: '/i', defaultMaxVCPUs: 3 })).cmdline).toContain(
      ' nr_cpus=3 ',
    ));
  it('reports vsock use to the agent', () =>
    expect(buildKernelParams(config({ initrdPath: '/i', useVSock: true })).cmdline).toContain(
      'agent.use_vsock=true',
    ));
  it('puts the user’s params last so they win', () => {
    const { params, cmdline } = buildKernelParams(
      config({ initrdPath: '/i', kernelParams: 'panic=0 console=ttyS0' }),
    );
    expect(params.slice(-2)).toEqual([
      { key: 'panic', value: '0' },
      { key: 'console', value: 'ttyS0' },
    ]);
    expect(cmdline.endsWith('panic=1 nr_cpus=4 agent.use_vsock=false panic=0 console=ttyS0')).toBe(true);
  });
  it('returns the params list that serializes to the command line', () => {
    const built = buildKernelParams(config({ imagePath: '/img' }));
    expect(serializeParams(built.params, '=').join(' ')).toBe(built.cmdline);
  });
  it.each<[Arch, string]>([
    ['arm64', 'console=hvc0 console=hvc1 iommu.passthrough=0 quiet panic=1'],
    [
      'ppc64le',
      'tsc=reliable no_timer_check rcupdate.rcu_expedited=1 noreplace-smp reboot=k console=hvc0 console=hvc1 cryptomgr.notests net.ifnames=0 quiet panic=1',
    ],
    ['s390x', 'console=ttysclp0 quiet panic=1'],
  ])('uses the %s arch params', (arch, prefix) =>
    expect(buildKernelParams(config({ arch, initrdPath: '/i' })).cmdline.startsWith(prefix)).toBe(true),
  );
  it('roots an s390x image on virtio-blk (no nvdimm there)', () =>
    expect(rootParams(config({ arch: 's390x', imagePath: '/img' }))[0]).toEqual({
      key: 'root',
      value: '/dev/vda1',
    }));
  it('has no root params without an image', () =>
    expect(rootParams(config({ initrdPath: '/i' }))).toEqual([]));
  it('keeps the no-DAX nvdimm variant of the seeds available', () =>
    expect(NVDIMM_NO_DAX_ROOT_PARAMS[1]).toEqual({
      key: 'rootflags',
      value: 'data=ordered,errors=remount-ro ro',
    }));
  it('does not add iommu params on other arches', () =>
    expect(buildKernelParams(config({ arch: 'arm64', initrdPath: '/i', iommu: true })).cmdline).not.toContain(
      'intel_iommu',
    ));
  it('has a table for every arch', () =>
    expect(Object.keys(ARCH_KERNEL_PARAMS).sort()).toEqual(['amd64', 'arm64', 'ppc64le', 's390x']));
});
