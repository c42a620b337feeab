// Real QEMU 7.2 accepts the device fragments (realized devices found over QMP by id), and QEMU's
// real refusals for hardware this host lacks become typed errors.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildQemuObjects,
  classifyQemuStartError,
  devicesArgs,
  hotplugCommands,
  QemuDeviceError,
  QemuHugepagesUnavailableError,
  QemuRefusedError,
  QemuVfioUnavailableError,
  QemuVhostNetUnavailableError,
  QemuVhostVsockUnavailableError,
} from '../../src/qemu/devices/index.js';
import type { DeviceContext, QemuArch, QemuDevice } from '../../src/qemu/devices/types.js';
import type { QmpPciDeviceInfo } from '../../src/qmp/commands.js';
import { QmpClient } from '../../src/qmp/index.js';
import { QmpSchema } from '../../src/qmp/schema-check.js';
import { alive, descendants } from '../helpers/census.js';
import { hostBinary, QEMU, VIRTIOFSD } from '../helpers/env.js';
import { createTestNetns, type FdSlot, type TestNetns } from './qemu-plan-fds.js';

const QEMU_S390X = hostBinary('qemu-system-s390x');
const QEMU_AARCH64 = hostBinary('qemu-system-aarch64');
const QEMU_PPC64 = hostBinary('qemu-system-ppc64');
const BINARY: Record<QemuArch, string | undefined> = {
  amd64: QEMU,
  arm64: QEMU_AARCH64,
  ppc64le: QEMU_PPC64,
  s390x: QEMU_S390X,
};
const QEMU_IMG = hostBinary('qemu-img');
const QSD = hostBinary('qemu-storage-daemon');
/** UEFI for arm64 virt: its ACPI GED device (memory hotplug, hence nvdimm) exists only with firmware. */
const AAVMF = '/usr/share/AAVMF/AAVMF_CODE.fd';
const GOLDEN = join(import.meta.dirname, '..', 'golden', 'devices');

const Q35: DeviceContext = { arch: 'amd64', machineType: 'q35' };
const DEADLINE_MS = 20_000;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Launched {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly stderr: () => string;
}

let dir = '';
let netns: TestNetns | undefined;
const started: ChildProcess[] = [];
const servers: Server[] = [];
const sockets: Socket[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmactor-dev-'));
  chmodSync(dir, 0o700);
});

afterEach(async () => {
  // Kill only what this file started, by PID, and reap it before removing the directory.
  for (const child of started.splice(0).reverse()) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null && alive(child.pid)) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGKILL');
      await gone;
    }
  }
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) server.close();
  rmSync(dir, { recursive: true, force: true });
  netns?.remove();
  netns = undefined;
  // Nothing of ours outlives the test.
  const left = descendants().map((pid) => `${pid} ${cmdline(pid)}`);
  expect(left, 'leftover processes').toEqual([]);
});

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '(gone)';
  }
}

function deadline<T>(p: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline: ${what} after ${ms} ms`)), ms);
  });
  return Promise.race([p, expiry]).finally(() => clearTimeout(timer));
}

function run(
  cmd: string,
  args: readonly string[],
  extraStdio: 'pipe' | 'ignore' = 'ignore',
  passed: readonly Socket[] = [],
): Launched {
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'ignore', 'pipe', extraStdio, ...passed],
    cwd: dir,
    shell: false,
  });
  started.push(child);
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<Exit>((resolve) => {
    // 'close' fires after stdio has drained, so stderr is complete.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, exited, stderr: () => err };
}

function qemuBase(machine = 'q35,accel=tcg'): string[] {
  return [
    '-S',
    '-display',
    'none',
    '-nodefaults',
    '-machine',
    machine,
    '-qmp',
    `unix:${join(dir, 'q.sock')},server=on,wait=off`,
  ];
}

/**
 * Launches QEMU with the fragments; QMP arrives on fd 3 (a socketpair), no path polling. `passed`
 * sockets become fds 4, 5, ... in QEMU.
 */
async function launchWithQmp(
  args: readonly string[],
  opts: { binary?: string; machine?: string; passed?: readonly Socket[]; wrap?: readonly string[] } = {},
): Promise<{ qemu: Launched; qmp: QmpClient }> {
  const [cmd, ...pre] = [...(opts.wrap ?? []), opts.binary ?? QEMU!];
  const qemu = run(
    cmd!,
    [
      ...pre,
      ...qemuBase(opts.machine),
      '-chardev',
      'socket,id=mon0,fd=3',
      '-mon',
      'chardev=mon0,mode=control',
      ...args,
    ],
    'pipe',
    opts.passed,
  );
  const qmp = await deadline(
    QmpClient.connect(qemu.child.stdio[3] as Socket, { greetingTimeoutMs: DEADLINE_MS }),
    'QMP greeting',
  ).catch(async (err: unknown) => {
    // A refused start shows as a broken QMP stream first: report QEMU's own words.
    const exit = await deadline(qemu.exited, 'QEMU exit after a failed QMP handshake');
    throw new Error(`QEMU exited (${exit.code ?? exit.signal}): ${qemu.stderr()}`, { cause: err });
  });
  return { qemu, qmp };
}

/** Starts virtiofsd on `sock` sharing a fresh directory; resolves once it listens (it says so). */
async function startVirtiofsd(sock: string): Promise<void> {
  const source = join(dir, `src-${basename(sock)}`);
  mkdirSync(source);
  const vfsd = run(VIRTIOFSD!, [`--socket-path=${sock}`, '-o', `source=${source}`, '-o', 'cache=none']);
  // virtiofsd says so on stderr once its socket is listening: an event, not a poll.
  await deadline(
    new Promise<void>((resolve, reject) => {
      const onData = (): void => {
        if (vfsd.stderr().includes('Waiting for vhost-user socket connection')) resolve();
      };
      vfsd.child.stderr!.on('data', onData);
      vfsd.exited.then((e) => reject(new Error(`virtiofsd exited (${e.code}): ${vfsd.stderr()}`)));
      onData();
    }),
    'virtiofsd socket',
  );
}

/**
 * Starts qemu-storage-daemon exporting a fresh image as vhost-user-blk on `sock`; its QMP greeting
 * (on fd 3) arrives after the export is listening.
 */
async function startStorageDaemon(sock: string): Promise<void> {
  const img = image(`qsd-${basename(sock)}.img`, 16 << 20);
  const qsd = run(
    QSD!,
    [
      '--blockdev',
      `driver=file,node-name=file0,filename=${img.replaceAll(',', ',,')}`,
      '--export',
      `type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,addr.path=${sock.replaceAll(',', ',,')},writable=on,num-queues=4`,
      '--chardev',
      'socket,id=mon0,fd=3',
      '--monitor',
      'chardev=mon0',
    ],
    'pipe',
  );
  const qmp = await deadline(
    QmpClient.connect(qsd.child.stdio[3] as Socket),
    'qemu-storage-daemon QMP',
  ).catch(async (err: unknown) => {
    await deadline(qsd.exited, 'qemu-storage-daemon exit');
    throw new Error(`qemu-storage-daemon exited: ${qsd.stderr()}`, { cause: err });
  });
  qmp.close();
}

/** A connection to a vhost-user backend, to be handed to QEMU as an fd (this process never reads it). */
async function connectForQemu(sock: string): Promise<Socket> {
  const conn = createConnection(sock);
  await deadline(once(conn, 'connect'), `connect to ${sock}`);
  conn.pause(); // QEMU, not this process, reads from it
  conn.on('error', () => {}); // the connection is QEMU's; its fate shows in QEMU, not here
  sockets.push(conn);
  return conn;
}

/** Ids under /machine/peripheral. */
async function peripheralIds(qmp: QmpClient): Promise<string[]> {
  return (await qmp.execute('qom-list', { path: '/machine/peripheral' })).map((p) => p.name);
}

/** Launches QEMU expecting it to refuse the argv; resolves with its stderr once it has exited. */
async function refusalOf(
  args: readonly string[],
  wrap: readonly string[] = [],
  opts: { binary?: string; machine?: string } = {},
): Promise<{ exit: Exit; stderr: string }> {
  const [cmd, ...pre] = [...wrap, opts.binary ?? QEMU!];
  const qemu = run(cmd!, [...pre, ...qemuBase(opts.machine), ...args]);
  const exit = await deadline(qemu.exited, 'QEMU refusal');
  return { exit, stderr: qemu.stderr() };
}

function flattenPci(devices: readonly QmpPciDeviceInfo[]): { qdev_id: string }[] {
  return devices.flatMap((d) => [d, ...flattenPci(d.pci_bridge?.devices ?? [])]);
}

function image(name: string, bytes = 1 << 20): string {
  const p = join(dir, name);
  writeFileSync(p, '');
  truncateSync(p, bytes); // sparse
  return p;
}

describe('device fragments on real QEMU 7.2 (q35, TCG)', () => {
  it('realizes block, scsi, 9p, console, serial port, rng, bridges, root port, balloon and pvpanic with their ids', async () => {
    const odd = image('disk,with=comma "and quotes".img');
    const shared = join(dir, 'share,dir');
    mkdirSync(shared);
    const devices: QemuDevice[] = [
      {
        type: 'bridge',
        bridgeType: 'pci',
        bus: 'pcie.0',
        id: 'pci-bridge-0',
        chassis: 1,
        shpc: true,
        addr: '2',
      },
      {
        type: 'bridge',
        bridgeType: 'pcie',
        bus: 'pcie.0',
        id: 'pcie-bridge-0',
        chassis: 2,
        shpc: false,
        addr: '3',
      },
      { type: 'pcie-root-port', id: 'rp0', chassis: 3, slot: 1, memReserve: '32M', pref64Reserve: '64M' },
      {
        type: 'block',
        id: 'drive0',
        file: image('root.img'),
        format: 'raw',
        driver: 'virtio-blk',
        romfile: '',
      },
      {
        type: 'block',
        id: 'drive1',
        file: odd,
        format: 'raw',
        driver: 'virtio-blk',
        bus: 'pci-bridge-0',
        addr: '03',
        shareRW: true,
        readOnly: true,
        cache: { direct: false, noFlush: true },
      },
      { type: 'scsi-controller', id: 'scsi0', iothread: 'iothread-scsi0' },
      {
        type: 'block',
        id: 'scsi-disk-0',
        file: image('scsi.img'),
        format: 'raw',
        driver: 'scsi-hd',
        scsi: { bus: 'scsi0.0', scsiId: 0, lun: 2 },
      },
      {
        type: 'fs',
        fsType: 'virtio-9p',
        id: 'extra-9p-shared',
        path: shared,
        mountTag: 'tag,with=comma',
        securityModel: 'none',
        multidev: 'remap',
      },
      { type: 'serial', driver: 'virtio-serial', id: 'serial0', maxPorts: 4 },
      {
        type: 'char',
        driver: 'virtconsole',
        backend: 'socket',
        id: 'charconsole0',
        deviceId: 'console0',
        path: join(dir, 'console.sock'),
      },
      {
        type: 'char',
        driver: 'virtserialport',
        backend: 'socket',
        id: 'charch0',
        deviceId: 'channel0',
        path: join(dir, 'agent.sock'),
        name: 'agent.channel.0',
        bus: 'serial0.0',
      },
      {
        type: 'char',
        driver: 'isa-serial',
        backend: 'file',
        id: 'charserial0',
        deviceId: 'uart0',
        path: join(dir, 'uart.log'),
      },
      {
        type: 'rng',
        id: 'rng0',
        deviceId: 'rng-dev0',
        filename: '/dev/urandom',
        maxBytes: 1024,
        period: 1000,
      },
      { type: 'balloon', id: 'balloon0', bus: 'rp0', deflateOnOOM: true, freePageReporting: true },
      { type: 'pvpanic' },
    ];
    const { qmp } = await launchWithQmp(devicesArgs(devices, Q35));

    const peripheral = (await qmp.execute('qom-list', { path: '/machine/peripheral' })).map((p) => p.name);
    for (const id of [
      'pci-bridge-0',
      'pcie-bridge-0',
      'rp0',
      'drive0',
      'drive1',
      'scsi0',
      'scsi-disk-0',
      'extra-9p-shared',
      'serial0',
      'console0',
      'channel0',
      'uart0',
      'rng-dev0',
      'balloon0',
    ]) {
      expect(peripheral, `device ${id} under /machine/peripheral`).toContain(id);
    }

    // -blockdev disks: query-block finds them by their node (`drive-<id>`), not a legacy drive name.
    const blocks = await qmp.execute('query-block');
    const byNode = new Map(
      blocks.map((b) => [(b.inserted as { 'node-name'?: string } | undefined)?.['node-name'], b]),
    );
    expect(byNode.get('drive-drive0')?.inserted?.file).toBe(join(dir, 'root.img'));
    expect(byNode.get('drive-drive1')?.inserted?.file).toBe(odd);
    expect(byNode.get('drive-drive1')?.inserted?.ro).toBe(true);
    expect(byNode.get('drive-scsi-disk-0')?.inserted?.file).toBe(join(dir, 'scsi.img'));

    // Under -S no firmware has numbered the secondary buses, so query-pci lists bridged devices
    // nowhere; their QOM parent bus says where they sit.
    const pci = flattenPci((await qmp.execute('query-pci')).flatMap((b) => b.devices)).map((d) => d.qdev_id);
    expect(pci).toEqual(
      expect.arrayContaining([
        'pci-bridge-0',
        'pcie-bridge-0',
        'rp0',
        'drive0',
        'scsi0',
        'extra-9p-shared',
        'rng-dev0',
      ]),
    );
    const qomGet = (id: string, property: string): Promise<unknown> =>
      qmp.executeUntyped('qom-get', { path: `/machine/peripheral/${id}`, property });
    expect(await qomGet('drive1', 'parent_bus')).toMatch(/pci-bridge-0/);
    expect(await qomGet('drive1', 'addr')).toBe(3 << 3);
    expect(await qomGet('balloon0', 'parent_bus')).toMatch(/rp0/);
    expect(await qomGet('pci-bridge-0', 'addr')).toBe(2 << 3);
    expect(await qomGet('pci-bridge-0', 'chassis_nr')).toBe(1);
    expect(await qomGet('rp0', 'mem-reserve')).toBe(32 << 20);
    expect(await qomGet('balloon0', 'deflate-on-oom')).toBe(true);
    expect(await qomGet('scsi-disk-0', 'lun')).toBe(2);
    expect(await qomGet('rng-dev0', 'max-bytes')).toBe(1024);
    const anon = await qmp.execute('qom-list', { path: '/machine/peripheral-anon' });
    expect(anon.map((c) => c.type)).toContain('child<pvpanic>');

    expect(await qomGet('extra-9p-shared', 'mount_tag')).toBe('tag,with=comma');
    const iothreads = (await qmp.executeUntyped('query-iothreads')) as { id: string }[];
    expect(iothreads.map((t) => t.id)).toContain('iothread-scsi0');
    const chardevs = await qmp.execute('query-chardev');
    expect(chardevs.find((c) => c.label === 'charconsole0')?.filename).toContain(join(dir, 'console.sock'));
    expect(chardevs.find((c) => c.label === 'charch0')?.filename).toContain(join(dir, 'agent.sock'));
    expect(await qomGet('channel0', 'name')).toBe('agent.channel.0');
    qmp.close();
  });

  it('realizes an nvdimm image, intel-iommu and a loader on a machine with nvdimm=on', async () => {
    const nv = image('nv.img', 16 << 20);
    const devices: QemuDevice[] = [
      { type: 'iommu', intremap: true, cachingMode: true },
      { type: 'nvdimm', id: 'mem0', deviceId: 'nv0', memPath: nv, size: 16 << 20, readOnly: true },
      { type: 'loader', id: 'loader0', file: image('blob,1.bin', 4096) },
    ];
    const { qmp } = await launchWithQmp(['-m', '128M,slots=2,maxmem=1G', ...devicesArgs(devices, Q35)], {
      machine: 'q35,accel=tcg,nvdimm=on',
    });
    const peripheral = (await qmp.execute('qom-list', { path: '/machine/peripheral' })).map((p) => p.name);
    expect(peripheral).toEqual(expect.arrayContaining(['nv0', 'loader0']));
    const mem = (await qmp.executeUntyped('query-memory-devices')) as {
      type: string;
      data: { id?: string };
    }[];
    expect(mem).toContainEqual(
      expect.objectContaining({ type: 'nvdimm', data: expect.objectContaining({ id: 'nv0' }) }),
    );
    const iommus = (await qmp.executeUntyped('qom-list-types', { implements: 'x86-iommu' })) as {
      name: string;
    }[];
    expect(iommus.map((t) => t.name)).toContain('intel-iommu');
    expect(
      await qmp.executeUntyped('qom-get', { path: '/machine/peripheral/nv0', property: 'unarmed' }),
    ).toBe(true);
    qmp.close();
  });

  for (const via of ['socketPath', 'socketFd'] as const) {
    it(`realizes vhost-user-fs against a real virtiofsd (chardev by ${via}) on shared guest memory`, async () => {
      const sock = join(dir, 'vfs.sock');
      await startVirtiofsd(sock);
      // By fd: the test connects and hands QEMU the connected socket as fd 4.
      const passed = via === 'socketFd' ? [await connectForQemu(sock)] : [];
      const frag = devicesArgs(
        [
          {
            type: 'vhost-user',
            vhostType: 'fs',
            ...(via === 'socketFd' ? { socketFd: 4 } : { socketPath: sock }),
            charDevId: 'char-fs0',
            typeDevId: 'fs0',
            tag: 'kata,Shared',
          },
        ],
        Q35,
      );
      const { qmp } = await launchWithQmp(
        [
          '-m',
          '256M',
          '-object',
          'memory-backend-memfd,id=mem,size=256M,share=on',
          '-numa',
          'node,memdev=mem',
          ...frag,
        ],
        { passed },
      );
      for (const conn of passed) conn.destroy(); // QEMU holds its own copy
      expect(await peripheralIds(qmp)).toContain('fs0');
      expect(await qmp.executeUntyped('qom-get', { path: '/machine/peripheral/fs0', property: 'tag' })).toBe(
        'kata,Shared',
      );
      const chardevs = await qmp.execute('query-chardev');
      expect(chardevs.map((c) => c.label)).toContain('char-fs0');
      qmp.close();
    });
  }
});

describe('device fragments on the other transports (real QEMU 7.2, TCG)', () => {
  it('realizes the ccw variants on s390-ccw-virtio with their devno', async () => {
    const ctx: DeviceContext = { arch: 's390x', machineType: 's390-ccw-virtio' };
    const shared = join(dir, 'share');
    mkdirSync(shared);
    const devices: QemuDevice[] = [
      {
        type: 'block',
        id: 'drive0',
        file: image('root.img'),
        format: 'raw',
        driver: 'virtio-blk',
        devno: 'fe.0.0001',
      },
      { type: 'scsi-controller', id: 'scsi0', iothread: 'io0', devno: 'fe.0.0002' },
      {
        type: 'block',
        id: 'scsi-disk-0',
        file: image('scsi.img'),
        format: 'raw',
        driver: 'scsi-hd',
        scsi: { bus: 'scsi0.0', scsiId: 0, lun: 0 },
      },
      {
        type: 'fs',
        fsType: 'virtio-9p',
        id: 'fs0',
        path: shared,
        mountTag: 'share',
        securityModel: 'none',
        devno: 'fe.0.0003',
      },
      { type: 'serial', driver: 'virtio-serial', id: 'serial0', devno: 'fe.0.0004' },
      {
        type: 'char',
        driver: 'virtconsole',
        backend: 'socket',
        id: 'charconsole0',
        deviceId: 'console0',
        path: join(dir, 'c.sock'),
      },
      { type: 'rng', id: 'rng0', deviceId: 'rng-dev0', devno: 'fe.0.0005' },
      { type: 'balloon', id: 'balloon0', deflateOnOOM: true, devno: 'fe.0.0006' },
    ];
    const { qmp } = await launchWithQmp(devicesArgs(devices, ctx), {
      binary: QEMU_S390X!,
      machine: 's390-ccw-virtio,accel=tcg',
    });
    const ids = await peripheralIds(qmp);
    expect(ids).toEqual(
      expect.arrayContaining([
        'drive0',
        'scsi0',
        'scsi-disk-0',
        'fs0',
        'serial0',
        'console0',
        'rng-dev0',
        'balloon0',
      ]),
    );
    const devno = (id: string): Promise<unknown> =>
      qmp.executeUntyped('qom-get', { path: `/machine/peripheral/${id}`, property: 'devno' });
    expect(await devno('drive0')).toBe('fe.0.0001');
    expect(await devno('scsi0')).toBe('fe.0.0002');
    expect(await devno('balloon0')).toBe('fe.0.0006');
    const types = await qmp.execute('qom-list', { path: '/machine/peripheral' });
    expect(types).toContainEqual({ name: 'drive0', type: 'child<virtio-blk-ccw>' });
    qmp.close();
  });

  it('realizes the pci and mmio variants on arm64 virt (root port, bridge, pvpanic-pci, loader)', async () => {
    const ctx: DeviceContext = { arch: 'arm64', machineType: 'virt' };
    const devices: QemuDevice[] = [
      { type: 'pcie-root-port', id: 'rp0', chassis: 1, slot: 1, pref32Reserve: '32M' },
      { type: 'bridge', bridgeType: 'pci', bus: 'pcie.0', id: 'pci-bridge-0', chassis: 2, shpc: false },
      {
        type: 'block',
        id: 'drive0',
        file: image('root.img'),
        format: 'raw',
        driver: 'virtio-blk',
        bus: 'rp0',
      },
      {
        type: 'block',
        id: 'drive1',
        file: image('mmio.img'),
        format: 'raw',
        driver: 'virtio-blk',
        transport: 'mmio',
      },
      { type: 'rng', id: 'rng0', deviceId: 'rng-dev0', bus: 'pci-bridge-0', addr: '01' },
      { type: 'pvpanic' },
      { type: 'loader', id: 'loader0', file: image('blob.bin', 4096) },
    ];
    const { qmp } = await launchWithQmp(devicesArgs(devices, ctx), {
      binary: QEMU_AARCH64!,
      machine: 'virt,accel=tcg',
    });
    const types = await qmp.execute('qom-list', { path: '/machine/peripheral' });
    expect(types).toEqual(
      expect.arrayContaining([
        { name: 'rp0', type: 'child<pcie-root-port>' },
        { name: 'pci-bridge-0', type: 'child<pci-bridge>' },
        { name: 'drive0', type: 'child<virtio-blk-pci>' },
        { name: 'drive1', type: 'child<virtio-blk-device>' },
        { name: 'rng-dev0', type: 'child<virtio-rng-pci>' },
        { name: 'loader0', type: 'child<loader>' },
      ]),
    );
    const anon = await qmp.execute('qom-list', { path: '/machine/peripheral-anon' });
    expect(anon.map((c) => c.type)).toContain('child<pvpanic-pci>');
    qmp.close();
  });

  it('realizes the mmio variants on an amd64 microvm', async () => {
    const ctx: DeviceContext = { arch: 'amd64', machineType: 'microvm' };
    const shared = join(dir, 'share');
    mkdirSync(shared);
    const devices: QemuDevice[] = [
      { type: 'block', id: 'drive0', file: image('root.img'), format: 'raw', driver: 'virtio-blk' },
      {
        type: 'fs',
        fsType: 'virtio-9p',
        id: 'fs0',
        path: shared,
        mountTag: 'share',
        securityModel: 'mapped-file',
      },
      { type: 'serial', driver: 'virtio-serial', id: 'serial0' },
      { type: 'char', driver: 'virtconsole', backend: 'pty', id: 'charconsole0', deviceId: 'console0' },
      { type: 'rng', id: 'rng0', deviceId: 'rng-dev0' },
      { type: 'balloon', id: 'balloon0' },
    ];
    const { qmp } = await launchWithQmp(devicesArgs(devices, ctx), { machine: 'microvm,accel=tcg' });
    const types = await qmp.execute('qom-list', { path: '/machine/peripheral' });
    expect(types).toEqual(
      expect.arrayContaining([
        { name: 'drive0', type: 'child<virtio-blk-device>' },
        { name: 'fs0', type: 'child<virtio-9p-device>' },
        { name: 'serial0', type: 'child<virtio-serial-device>' },
        { name: 'console0', type: 'child<virtconsole>' },
        { name: 'rng-dev0', type: 'child<virtio-rng-device>' },
        { name: 'balloon0', type: 'child<virtio-balloon-device>' },
      ]),
    );
    qmp.close();
  });
});

/** What a golden fixture should meet on this host: realization, or a refusal as the typed error. */
type Outcome = { realize: true } | { refuse: string; why: string } | { peer: string };

function outcome(dev: QemuDevice): Outcome {
  switch (dev.type) {
    case 'vfio':
      return { refuse: 'ERR_QEMU_VFIO_UNAVAILABLE', why: 'no VFIO device here' };
    case 'vsock':
      // Without a vhostFd QEMU opens /dev/vhost-vsock (absent here); with one, the test can only
      // put /dev/null in that slot, which QEMU refuses as not a vhost device.
      return { refuse: 'ERR_QEMU_VHOST_VSOCK_UNAVAILABLE', why: 'no /dev/vhost-vsock here' };
    case 'vhost-user':
      // Backends here: virtiofsd (fs) and qemu-storage-daemon (blk); for scsi and net there is
      // none, so the test listens on the socket itself and sees QEMU open the vhost-user session.
      return dev.vhostType === 'fs' || dev.vhostType === 'blk'
        ? { realize: true }
        : { peer: `no vhost-user-${dev.vhostType} backend here` };
    case 'net':
      // vhost=on: QEMU opens /dev/vhost-net (absent here), or is handed /dev/null as the vhostfd.
      return dev.vhost
        ? { refuse: 'ERR_QEMU_VHOST_NET_UNAVAILABLE', why: 'no /dev/vhost-net here' }
        : { realize: true };
    default:
      return { realize: true };
  }
}

/** The fds a fixture's device refers to, as slots a netns launcher opens (taps there, /dev/null for vhost). */
function fdSlots(dev: QemuDevice, ctx: DeviceContext): FdSlot[] {
  const fds = buildQemuObjects(dev, ctx).fds ?? [];
  const taps = fds.filter((f) => f.purpose === 'tap').length;
  return fds.map((f) =>
    f.purpose === 'tap'
      ? { fd: f.ref as number, kind: 'tap', name: 'vt-fixture', mq: taps > 1 }
      : { fd: f.ref as number, kind: f.purpose },
  );
}

/** The fixture with its host paths moved into the test dir (same basenames: commas and all). */
function localize(dev: QemuDevice): QemuDevice {
  switch (dev.type) {
    case 'block': {
      const file = image(basename(dev.file));
      if (dev.format === 'qcow2') execFileSync(QEMU_IMG!, ['create', '-q', '-f', 'qcow2', file, '1M']);
      return { ...dev, file };
    }
    case 'nvdimm':
      return { ...dev, memPath: image(basename(dev.memPath), dev.size) };
    case 'loader':
      return { ...dev, file: image(basename(dev.file), 4096) };
    case 'fs': {
      const path = join(dir, basename(dev.path));
      mkdirSync(path);
      return { ...dev, path };
    }
    case 'char':
      return dev.path === undefined ? dev : { ...dev, path: join(dir, basename(dev.path)) };
    default:
      return dev;
  }
}

/** Devices the fixture's device plugs into (a bridge, root port, SCSI or virtio-serial bus). */
function prerequisites(dev: QemuDevice, ctx: DeviceContext): QemuDevice[] {
  const out: QemuDevice[] = [];
  const bus = 'bus' in dev ? dev.bus : undefined;
  const root = ctx.arch === 'amd64' && ctx.machineType === 'pc' ? 'pci.0' : 'pcie.0';
  if (bus === 'pci-bridge-0') {
    out.push({ type: 'bridge', bridgeType: 'pci', bus: root, id: 'pci-bridge-0', chassis: 9, shpc: true });
  }
  if (bus === 'rp0') out.push({ type: 'pcie-root-port', id: 'rp0', chassis: 9, slot: 9 });
  if (dev.type === 'block' && dev.scsi)
    out.push({ type: 'scsi-controller', id: dev.scsi.bus.replace(/\.0$/, '') });
  if (dev.type === 'char' && (dev.driver === 'virtconsole' || dev.driver === 'virtserialport')) {
    out.push({ type: 'serial', driver: 'virtio-serial', id: bus?.replace(/\.0$/, '') ?? 'vserial-prereq' });
  }
  return out;
}

/** The `-device` id a fixture gives its device, when it gives one. */
function deviceQdevId(dev: QemuDevice): string | undefined {
  switch (dev.type) {
    case 'block':
    case 'fs':
    case 'serial':
    case 'scsi-controller':
    case 'bridge':
    case 'pcie-root-port':
    case 'balloon':
    case 'loader':
      return dev.id;
    case 'nvdimm':
      return dev.deviceId;
    case 'char':
      return dev.driver === 'serial' ? undefined : dev.deviceId;
    case 'net':
    case 'rng':
      return dev.deviceId;
    case 'vhost-user':
      return dev.vhostType === 'net' ? undefined : dev.typeDevId;
    default:
      return undefined;
  }
}

const fixtures = readdirSync(GOLDEN)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({
    name: f.slice(0, -'.json'.length),
    ...(JSON.parse(readFileSync(join(GOLDEN, f), 'utf8')) as { ctx: DeviceContext; device: QemuDevice }),
  }));

describe('every golden fixture meets real QEMU 7.2: realized by id, or refused as the typed error', () => {
  for (const { name, ctx, device } of fixtures) {
    const expected = outcome(device);
    const binary = BINARY[ctx.arch];
    const title =
      'refuse' in expected
        ? `refuses ${name} on this host (${expected.why}) as ${expected.refuse}`
        : 'peer' in expected
          ? `connects ${name} to its backend socket and asks for the vhost-user features (${expected.peer})`
          : `realizes ${name}`;
    it(title, async () => {
      const dev = localize(device);
      const nvdimm = dev.type === 'nvdimm';
      const shared = dev.type === 'vhost-user' ? ',memory-backend=mem' : '';
      const machine = `${ctx.machineType},accel=tcg${nvdimm ? ',nvdimm=on' : ''}${shared}`;
      const extra = nvdimm ? ['-m', '512M,slots=2,maxmem=2G'] : [];
      if (nvdimm && ctx.arch === 'arm64') extra.push('-cpu', 'max', '-bios', AAVMF);
      if (dev.type === 'char' && dev.backend === 'socket' && dev.server === false && dev.path) {
        // A client chardev needs someone listening.
        const server = createServer();
        servers.push(server);
        server.listen(dev.path);
        await deadline(once(server, 'listening'), 'listener for a client chardev');
      }
      let passed: Socket[] = [];
      let sweepDev = dev;
      if (dev.type === 'char' && dev.fd !== undefined) {
        // A socket chardev on a passed fd: a connection to a listener of the test's own.
        const path = join(dir, 'peer.sock');
        const server = createServer();
        servers.push(server);
        server.listen(path);
        await deadline(once(server, 'listening'), 'peer listener');
        const conn = await connectForQemu(path);
        passed = Array.from({ length: dev.fd - 3 }, () => conn);
      }
      if (dev.type === 'vhost-user' && 'peer' in expected) {
        // The test is the backend's socket: QEMU's first vhost-user message must arrive on it.
        const sock = join(dir, basename(dev.socketPath ?? 'backend.sock'));
        const server = createServer();
        servers.push(server);
        server.listen(sock);
        await deadline(once(server, 'listening'), 'vhost-user listener');
        const first = new Promise<Buffer>((resolve) => {
          server.once('connection', (conn) => {
            sockets.push(conn);
            conn.once('data', (b: Buffer) => resolve(b));
          });
        });
        const machineArgs = ['-m', '256M', '-object', 'memory-backend-memfd,id=mem,size=256M,share=on'];
        run(binary!, [
          ...qemuBase(`${ctx.machineType},accel=tcg,memory-backend=mem`),
          ...machineArgs,
          ...devicesArgs([...prerequisites(dev, ctx), { ...dev, socketPath: sock }], ctx),
        ]);
        const msg = await deadline(first, 'the first vhost-user message');
        // VhostUserMsg header: request (u32 LE) 1 = VHOST_USER_GET_FEATURES, flags version 1.
        expect(msg.readUInt32LE(0)).toBe(1);
        expect(msg.readUInt32LE(4) & 0x3).toBe(1);
        return;
      }
      if (dev.type === 'vhost-user') {
        const sock = join(dir, dev.socketPath ? basename(dev.socketPath) : 'backend.sock');
        await (dev.vhostType === 'fs' ? startVirtiofsd(sock) : startStorageDaemon(sock));
        if (dev.socketFd !== undefined) {
          // fds 4..socketFd all carry the connection; QEMU uses the one the fixture names.
          const conn = await connectForQemu(sock);
          passed = Array.from({ length: dev.socketFd - 3 }, () => conn);
        } else {
          sweepDev = { ...dev, socketPath: sock };
        }
        // vhost-user needs guest RAM the backend can map.
        extra.push('-m', '256M', '-object', 'memory-backend-memfd,id=mem,size=256M,share=on');
      }
      const args = [...extra, ...devicesArgs([...prerequisites(dev, ctx), sweepDev], ctx)];
      // Tap fds are opened in a network namespace the test creates, at the fixture's numbers; a
      // tap named by ifname is created by QEMU itself, only inside a network namespace of its own.
      const slots = fdSlots(dev, ctx);
      if (slots.length > 0) netns = createTestNetns();
      const wrap = netns ? netns.wrap(slots) : dev.type === 'net' ? ['unshare', '--net'] : [];
      if ('refuse' in expected) {
        const { stderr } = await refusalOf(args, wrap, { binary: binary!, machine });
        expect(classifyQemuStartError(stderr).code, stderr).toBe(expected.refuse);
        return;
      }
      const { qmp } = await launchWithQmp(args, { binary: binary!, machine, wrap, passed });
      const id = deviceQdevId(dev);
      if (id !== undefined) expect(await peripheralIds(qmp)).toContain(id);
      if (dev.type === 'net' && slots.length > 0) {
        // QEMU holds the tap the test opened in its netns, and the NIC has the fixture's MAC.
        const network = (await qmp.executeUntyped('human-monitor-command', {
          'command-line': 'info network',
        })) as string;
        expect(network).toContain(`type=tap,fd=${slots[0]?.fd}`);
        const link = execFileSync('ip', ['-n', netns!.name, '-o', 'link', 'show', 'vt-fixture'], {
          encoding: 'utf8',
        });
        expect(link).toContain('vt-fixture');
        const rx = (await qmp.executeUntyped('query-rx-filter')) as { 'main-mac': string }[];
        expect(rx.map((r) => r['main-mac'])).toContain(dev.mac);
      }
      qmp.close();
    });
  }
});

describe("hot plug sends the builders' objects: every command matches QEMU 7.2's live QAPI schema", () => {
  const amd64 = fixtures.filter((f) => f.ctx.arch === 'amd64');
  const commandsOf = (f: (typeof fixtures)[number]) => {
    const objects = buildQemuObjects(f.device, f.ctx);
    return objects.argv && objects.argv.length > 0 ? undefined : hotplugCommands(objects);
  };

  it('checks chardev-add, object-add, blockdev-add, netdev_add and device_add (qdev properties included) and their undos', async () => {
    const { qmp } = await launchWithQmp([]);
    const schema = await QmpSchema.fetch(qmp);
    const plans = amd64.flatMap((f) => {
      const c = commandsOf(f);
      return c ? [{ name: f.name, commands: c }] : [];
    });
    const drivers = new Set(
      plans.flatMap((p) =>
        p.commands.flatMap((c) =>
          c.execute === 'device_add' ? [(c.arguments as { driver: string }).driver] : [],
        ),
      ),
    );
    await schema.loadDeviceProperties(qmp, drivers);
    const seen = new Set<string>();
    for (const p of plans) {
      for (const c of p.commands) {
        expect(
          schema.check(c.execute, c.arguments as Record<string, unknown>),
          `${p.name}: ${c.execute}`,
        ).toEqual([]);
        seen.add(c.execute);
        if (c.undo) {
          expect(schema.check(c.undo.execute, c.undo.arguments as Record<string, unknown>)).toEqual([]);
          seen.add(c.undo.execute);
        }
      }
    }
    expect([...seen].sort()).toEqual(
      [
        'blockdev-add',
        'blockdev-del',
        'chardev-add',
        'chardev-remove',
        'device_add',
        'device_del',
        'netdev_add',
        'netdev_del',
        'object-add',
        'object-del',
      ].sort(),
    );
    qmp.close();
  });

  it('refuses to hot-plug what has no QMP form (a 9p share needs -fsdev) with a typed error', () => {
    const nineP = fixtures.find((f) => f.device.type === 'fs');
    expect(nineP).toBeDefined();
    expect(() => hotplugCommands(buildQemuObjects(nineP!.device, nineP!.ctx))).toThrow(QemuDeviceError);
  });
});

describe("QEMU's real refusals become typed errors", () => {
  it('reads a vfio-pci device with a BDF that does not exist as ERR_QEMU_VFIO_UNAVAILABLE', async () => {
    const args = devicesArgs([{ type: 'vfio', id: 'vfio0', bdf: '0000:ff:1f.7' }], Q35);
    const { exit, stderr } = await refusalOf(args);
    expect(exit.code).not.toBe(0);
    const err = classifyQemuStartError(stderr);
    expect(err).toBeInstanceOf(QemuVfioUnavailableError);
    expect(err.code).toBe('ERR_QEMU_VFIO_UNAVAILABLE');
    expect(err.option).toBe(`-device ${args[1]}`);
    expect(err.stderr).toBe(stderr);
  });

  it('reads a mediated vfio device whose sysfs path does not exist as ERR_QEMU_VFIO_UNAVAILABLE', async () => {
    const sysfsDev = '/sys/bus/mdev/devices/c0ffee00-0000-4000-8000-000000000001';
    const { stderr } = await refusalOf(devicesArgs([{ type: 'vfio', sysfsDev }], Q35));
    const err = classifyQemuStartError(stderr);
    expect(err.code).toBe('ERR_QEMU_VFIO_UNAVAILABLE');
    expect(err.message).toContain(sysfsDev);
  });

  it('reads vhost-vsock without /dev/vhost-vsock as ERR_QEMU_VHOST_VSOCK_UNAVAILABLE', async () => {
    const { exit, stderr } = await refusalOf(
      devicesArgs([{ type: 'vsock', id: 'vsock0', contextId: 3 }], Q35),
    );
    expect(exit.code).not.toBe(0);
    const err = classifyQemuStartError(stderr);
    expect(err).toBeInstanceOf(QemuVhostVsockUnavailableError);
    expect(err.code).toBe('ERR_QEMU_VHOST_VSOCK_UNAVAILABLE');
    expect(err.option).toContain('vhost-vsock-pci');
  });

  it('reads a vhost=on tap (inside a private network namespace) without /dev/vhost-net as ERR_QEMU_VHOST_NET_UNAVAILABLE', async () => {
    const args = devicesArgs(
      [
        {
          type: 'net',
          netType: 'tap',
          driver: 'virtio-net',
          id: 'net0',
          ifname: 'tap0',
          mac: '52:54:00:12:34:56',
          vhost: true,
        },
      ],
      Q35,
    );
    // `unshare --net` gives QEMU a network namespace of its own: the tap it creates dies with it.
    const { exit, stderr } = await refusalOf(args, ['unshare', '--net']);
    expect(exit.code === 0 && exit.signal === null).toBe(false);
    const err = classifyQemuStartError(stderr);
    expect(err).toBeInstanceOf(QemuVhostNetUnavailableError);
    expect(err.code).toBe('ERR_QEMU_VHOST_NET_UNAVAILABLE');
  });

  it('reads guest RAM on hugetlb memfd without huge pages as ERR_QEMU_HUGEPAGES_UNAVAILABLE', async () => {
    const { exit, stderr } = await refusalOf([
      '-m',
      '128M',
      '-object',
      'memory-backend-memfd,id=mem,size=128M,hugetlb=on,prealloc=on',
      '-numa',
      'node,memdev=mem',
    ]);
    expect(exit.code).not.toBe(0);
    const err = classifyQemuStartError(stderr, { hugePages: true });
    expect(err).toBeInstanceOf(QemuHugepagesUnavailableError);
    expect(err.code).toBe('ERR_QEMU_HUGEPAGES_UNAVAILABLE');
  });

  it('reads any other refusal (a missing disk image) as ERR_QEMU_REFUSED carrying the stderr', async () => {
    const missing = join(dir, 'missing.img');
    const { stderr } = await refusalOf(
      devicesArgs([{ type: 'block', id: 'drive0', file: missing, format: 'raw', driver: 'virtio-blk' }], Q35),
    );
    const err = classifyQemuStartError(stderr);
    expect(err).toBeInstanceOf(QemuRefusedError);
    expect(err.code).toBe('ERR_QEMU_REFUSED');
    expect(err.stderr).toBe(stderr);
    expect(err.message).toContain(missing);
    expect(err.option?.startsWith('-blockdev {"driver":"raw","node-name":"drive-drive0"')).toBe(true);
  });
});
