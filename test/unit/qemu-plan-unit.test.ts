import { describe, expect, it } from 'vitest';
import type { SandboxConfig } from '../../src/config/types.js';
import { validateConfig } from '../../src/config/validate.js';
import { VmactorError } from '../../src/errors/vmactor-error.js';
import { archSpec, machineSpec } from '../../src/qemu/arch/index.js';
import {
  PathEscapeError,
  PlanError,
  SocketPathTooLongError,
  UnsupportedMachineError,
} from '../../src/qemu/errors.js';
import { machineArg } from '../../src/qemu/machine.js';
import { memoryArg } from '../../src/qemu/memory.js';
import { planPaths } from '../../src/qemu/paths.js';
import { type PlanQemuOptions, planQemu, planQemuSpec } from '../../src/qemu/plan.js';
import { planSpecFromConfig } from '../../src/qemu/plan-config.js';
import { cpuTopology, smpArg } from '../../src/qemu/smp.js';
import { escapeFuseOption, virtiofsdArgs } from '../../src/qemu/virtiofsd.js';

const HOST = { hostCpus: 4, hostMemoryMiB: 8192 };

function plan(config: Omit<SandboxConfig, 'id'> & { id?: string }, opts: Partial<PlanQemuOptions> = {}) {
  const input: SandboxConfig = {
    id: config.id ?? 'sb1',
    hypervisor: {
      kernelPath: '/k/vmlinuz',
      initrdPath: '/k/initrd.img',
      memorySize: 256,
      ...config.hypervisor,
    },
    ...(config.devices ? { devices: config.devices } : {}),
  };
  return planQemu(validateConfig(input, HOST), { runDir: '/run/vmactor/sb1', ...HOST, ...opts });
}

function valuesOf(argv: readonly string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag ? [argv[i + 1] as string] : []));
}

describe('planQemu', () => {
  it('never daemonizes QEMU and always gives it a pid file, a QMP path and -nodefaults', () => {
    const p = plan({});
    expect(p.argv).not.toContain('-daemonize');
    expect(valuesOf(p.argv, '-pidfile')).toEqual(['/run/vmactor/sb1/pid']);
    expect(valuesOf(p.argv, '-chardev')).toContain(
      'socket,id=qmp-path,path=/run/vmactor/sb1/qmp.sock,server=on,wait=off',
    );
    expect(valuesOf(p.argv, '-mon')).toContain('chardev=qmp-path,mode=control');
    expect(p.argv).toEqual(expect.arrayContaining(['-nodefaults', '-no-user-config', '-nographic']));
    expect(p.argv[0]).toBe('qemu-system-x86_64');
  });

  it('adds the controller monitor on the given fd', () => {
    const p = plan({}, { qmpFd: 3 });
    expect(valuesOf(p.argv, '-chardev')).toContain('socket,id=mon0,fd=3');
    expect(valuesOf(p.argv, '-mon')).toEqual(['chardev=mon0,mode=control', 'chardev=qmp-path,mode=control']);
  });

  it('defaults to TCG with cpu max, and uses cpu host under KVM', () => {
    expect(valuesOf(plan({}).argv, '-cpu')).toEqual(['max']);
    expect(valuesOf(plan({}).argv, '-machine')[0]).toMatch(/^q35,accel=tcg/);
    const kvm = plan({}, { accelerator: 'kvm' });
    expect(valuesOf(kvm.argv, '-cpu')).toEqual(['host']);
    expect(valuesOf(kvm.argv, '-machine')[0]).toBe('q35,accel=kvm,kernel_irqchip=on');
  });

  it('names the sandbox and sets the uuid it is given', () => {
    const p = plan({}, { uuid: '8a3b1c2d-0000-4000-8000-000000000001' });
    expect(valuesOf(p.argv, '-name')).toEqual(['sandbox-sb1']);
    expect(valuesOf(p.argv, '-uuid')).toEqual(['8a3b1c2d-0000-4000-8000-000000000001']);
  });

  it('gives a sandbox a stable v5-layout uuid when none is given', () => {
    const [a] = valuesOf(plan({}).argv, '-uuid');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(valuesOf(plan({}).argv, '-uuid')).toEqual([a]);
    expect(valuesOf(plan({ id: 'sb2' }).argv, '-uuid')).not.toEqual([a]);
  });

  it('derives every path under the run dir', () => {
    const p = plan({});
    for (const v of Object.values(p.paths)) expect(v.startsWith('/run/vmactor/sb1')).toBe(true);
    expect(p.paths.agentSocket).toBe('/run/vmactor/sb1/kata.sock');
  });

  it('refuses a relative run dir with a typed error', () => {
    expect(() => plan({}, { runDir: 'relative/run' })).toThrow(PathEscapeError);
  });

  it('refuses a run dir whose socket paths would exceed 107 bytes, before anything is launched', () => {
    const runDir = `/tmp/${'d'.repeat(100)}`;
    expect(() => plan({}, { runDir })).toThrow(SocketPathTooLongError);
    try {
      plan({}, { runDir });
    } catch (e) {
      expect((e as SocketPathTooLongError).code).toBe('ERR_PLAN_SOCKET_PATH_TOO_LONG');
    }
  });

  it('renumbers the host tap and vhost fds for QEMU after the QMP fd, and says which host fd goes where', () => {
    const devices = [{ kind: 'net' as const, id: 'net0', fds: [20, 21], vhostFds: [30, 31], queues: 2 }];
    const p = plan({ devices }, { qmpFd: 3 });
    expect(p.fds).toEqual([
      { fd: 4, hostFd: 20, purpose: 'tap', deviceId: 'net0' },
      { fd: 5, hostFd: 21, purpose: 'tap', deviceId: 'net0' },
      { fd: 6, hostFd: 30, purpose: 'vhost-net', deviceId: 'net0' },
      { fd: 7, hostFd: 31, purpose: 'vhost-net', deviceId: 'net0' },
    ]);
    const netdev = JSON.parse(valuesOf(p.argv, '-netdev')[0] as string) as Record<string, unknown>;
    expect(netdev).toMatchObject({ type: 'tap', id: 'net-net0', fds: '4:5', vhostfds: '6:7' });
    expect(plan({ devices }, { qmpFd: 9 }).fds.map((f) => f.fd)).toEqual([10, 11, 12, 13]);
  });

  it('refuses a host fd given to two devices with a PlanError', () => {
    const devices = [
      { kind: 'net' as const, id: 'net0', fds: [20] },
      { kind: 'net' as const, id: 'net1', fds: [20] },
    ];
    expect(() => plan({ devices }, { qmpFd: 3 })).toThrow(PlanError);
    expect(() => plan({ devices }, { qmpFd: 3 })).toThrow(/20 for `net1` \(also used by `net0`\)/);
  });

  it('returns the initial device record: each user device with its placement and backends', () => {
    const p = plan({
      hypervisor: { blockDeviceDriver: 'virtio-scsi', pcieRootPort: 2, hypervisorMachineType: 'q35' },
      devices: [
        { kind: 'block', id: 'd0', file: '/srv/d0.img' },
        { kind: 'block', id: 'd1', file: '/srv/d1.img' },
        { kind: 'net', id: 'n0', ifname: 'tap0' },
      ],
    });
    expect(p.record.version).toBe(1);
    expect(p.record.devices.map((d) => [d.id, d.origin])).toEqual([
      ['d0', 'cold'],
      ['d1', 'cold'],
      ['n0', 'cold'],
    ]);
    const [d0, d1, n0] = p.record.devices;
    expect(d0?.placement).toEqual({ bus: 'scsi0.0', scsi: { index: 0, scsiId: 0, lun: 0 } });
    expect(d1?.placement).toEqual({ bus: 'scsi0.0', scsi: { index: 1, scsiId: 0, lun: 1 } });
    expect(d0?.backends).toEqual({ node: 'drive-d0' });
    expect(d0?.spec).toMatchObject({ format: 'raw', driver: 'virtio-scsi', aio: 'threads' });
    expect(n0?.backends).toEqual({ netdev: 'net-n0' });
    expect(n0?.placement.bus).toBe('pcie.0');
    expect(n0?.placement.addr).toBe(p.devices.find((d) => d.id === 'n0')?.addr);
    expect(p.record.rootPorts).toEqual({ rp0: null, rp1: null });
    expect(p.record.bridges).toEqual(p.bridges);
    expect(JSON.parse(JSON.stringify(p.record))).toEqual(p.record);
  });

  it('gives each cold-plugged PCI device its own root-bus slot after the bridges', () => {
    const p = plan({ hypervisor: { defaultBridges: 2 } });
    const addrs = p.devices.filter((d) => d.addr !== undefined).map((d) => d.addr);
    expect(new Set(addrs).size).toBe(addrs.length);
    expect(p.devices.find((d) => d.id === 'pci-bridge-0')?.addr).toBe('02');
    expect(p.devices.find((d) => d.id === 'pci-bridge-1')?.addr).toBe('03');
    expect(p.devices.find((d) => d.id === 'serial0')?.addr).toBe('01');
    expect(p.bridges.every((b) => Object.keys(b.devices).length === 0)).toBe(true);
  });

  it('numbers s390x devices on the CCW bridge so hotplug continues after them', () => {
    const p = plan({ hypervisor: { arch: 's390x' } });
    expect(p.devices.find((d) => d.id === 'serial0')?.devno).toBe('fe.0.0001');
    expect(Object.values(p.bridges[0]?.devices ?? {})).toContain('serial0');
  });

  it('puts guest RAM on a shared memfd with a NUMA node for virtio-fs, and plans virtiofsd', () => {
    const p = plan({
      hypervisor: { sharedFS: 'virtio-fs' },
      devices: [{ kind: 'fs', type: 'virtio-fs', id: 'fs0', tag: 'kataShared', sharedDir: '/srv/a,b' }],
    });
    expect(valuesOf(p.argv, '-object')).toContain('memory-backend-memfd,id=dimm1,size=256M,share=on');
    expect(valuesOf(p.argv, '-numa')).toEqual(['node,memdev=dimm1']);
    expect(p.virtiofsd?.argv).toEqual([
      '/usr/lib/qemu/virtiofsd',
      '--socket-path=/run/vmactor/sb1/vhost-fs.sock',
      '-o',
      'source=/srv/a\\,b',
      '-o',
      'cache=auto',
      '-o',
      'no_posix_lock',
      '-f',
    ]);
    expect(p.paths.virtiofsdSocket).toBe('/run/vmactor/sb1/vhost-fs.sock');
  });

  it('refuses PCIe root ports on a machine without a PCIe root bus, with a typed error', () => {
    expect(() => plan({ hypervisor: { hypervisorMachineType: 'pc', pcieRootPort: 2 } })).toThrow(
      VmactorError,
    );
    const spec = planSpecFromConfig(
      validateConfig({ id: 'sb1', hypervisor: { kernelPath: '/k', initrdPath: '/i' } }, HOST),
    );
    expect(() =>
      planQemuSpec({ ...spec, machineType: 'pc', pcieRootPorts: 2 }, { runDir: '/run/vmactor/sb1', ...HOST }),
    ).toThrow(PlanError);
  });

  it('refuses hypervisor_params that would take over what vmactor owns', () => {
    expect(() => plan({ hypervisor: { hypervisorParams: [{ key: 'daemonize', value: '' }] } })).toThrow(
      PlanError,
    );
  });

  it('locks memory only with realtime, as Kata does', () => {
    expect(plan({ hypervisor: { mlock: true } }).argv).not.toContain('-overcommit');
    expect(valuesOf(plan({ hypervisor: { realtime: true, mlock: true } }).argv, '-overcommit')).toEqual([
      'mem-lock=on',
    ]);
  });

  it('emits -incoming defer only when booting from a template', () => {
    const from = plan({
      hypervisor: {
        sharedFS: 'none',
        bootFromTemplate: true,
        memoryPath: '/t/memory',
        devicesStatePath: '/t/state',
      },
    });
    expect(valuesOf(from.argv, '-incoming')).toEqual(['defer']);
    expect(valuesOf(from.argv, '-object')).toContain(
      'memory-backend-file,id=dimm1,size=256M,mem-path=/t/memory',
    );
  });
});

describe('arch tables', () => {
  it('know amd64 pc/q35, arm64 virt, ppc64le pseries and s390x s390-ccw-virtio', () => {
    expect(machineSpec('amd64').type).toBe('q35');
    expect(machineSpec('amd64', 'pc').rootBus).toBe('pci.0');
    expect(machineSpec('arm64').rootBus).toBe('pcie.0');
    expect(machineSpec('ppc64le').type).toBe('pseries');
    expect(machineSpec('s390x').bridgeType).toBe('ccw');
    expect(() => machineSpec('amd64', 'isapc')).toThrow(UnsupportedMachineError);
    expect(() => archSpec('riscv64')).toThrow(UnsupportedMachineError);
  });

  it('align ppc64le maxmem down to 256 MiB', () => {
    expect(archSpec('ppc64le').memoryTopology(2048, 8000, 10, 0).maxMemMiB).toBe(7936);
    expect(memoryArg(archSpec('amd64').memoryTopology(2048, 8000, 10, 1024))).toBe(
      '2048M,slots=10,maxmem=9024M',
    );
  });

  it('give -smp one socket per possible vCPU', () => {
    expect(smpArg(cpuTopology(2, 8))).toBe('2,cores=1,threads=1,sockets=8,maxcpus=8');
  });

  it('let a later machine option replace an earlier one of the same key', () => {
    expect(machineArg(machineSpec('amd64'), { accel: 'kvm', extraOptions: ['kernel_irqchip=split'] })).toBe(
      'q35,accel=kvm,kernel_irqchip=split',
    );
  });
});

describe('virtiofsd argv', () => {
  it('escapes commas and backslashes inside -o values', () => {
    expect(escapeFuseOption('a,b\\c')).toBe('a\\,b\\\\c');
  });

  it('takes the socket as an fd, debug output and extra args last', () => {
    expect(
      virtiofsdArgs({ fd: 3, source: '/s', cache: 'none', debug: true, extraArgs: ['-o', 'xattr'] }),
    ).toEqual([
      '/usr/lib/qemu/virtiofsd',
      '--fd=3',
      '-o',
      'source=/s',
      '-o',
      'cache=none',
      '-o',
      'no_posix_lock',
      '-d',
      '-o',
      'xattr',
    ]);
  });
});

describe('run-dir paths', () => {
  it('are all under the run dir', () => {
    const p = planPaths('/run/x', true);
    expect(Object.values(p).every((v) => v.startsWith('/run/x'))).toBe(true);
  });
});
