// Test harness of the hotplug tests: a bare QEMU (or the default guest) with QMP on fd 3, a
// HotplugContext over it, and a QMP snapshot to compare with the recorded device state.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { type GuestAgentListener, guestQemuArgs, listenGuestAgent } from '../../src/guest/agent-channel.js';
import { GuestAgentClient } from '../../src/guest/agent-client.js';
import type { HotplugConfig, HotplugContext, HotplugLimits, HotplugPhase } from '../../src/hotplug/index.js';
import { DeviceState } from '../../src/hotplug/index.js';
import { type BridgeState, createBridges } from '../../src/qemu/bridges.js';
import { QmpClient } from '../../src/qmp/client.js';
import { alive } from '../helpers/census.js';
import { QEMU } from '../helpers/env.js';

/** A hypervisor config for the tests (q35, virtio-blk, 1 bridge). */
export function testConfig(over: Partial<HotplugConfig> = {}): HotplugConfig {
  return {
    numVCPUs: 1,
    defaultMaxVCPUs: 4,
    memorySize: 512,
    memSlots: 4,
    memOffset: 0,
    blockDeviceDriver: 'virtio-blk',
    blockDeviceCacheSet: false,
    blockDeviceCacheDirect: false,
    blockDeviceCacheNoflush: false,
    hypervisorMachineType: 'q35',
    hotplugVFIOOnRootBus: false,
    pcieRootPort: 0,
    fileBackedMemRootDir: '',
    sharedFS: 'none',
    hugePages: false,
    enableVhostUserStore: false,
    virtioMem: false,
    ...over,
  };
}

/** Options of {@link launchVm}. */
export interface VmOptions {
  /** Boot the default guest (cloud) with its agent channel; else `-S` and no guest. */
  readonly guest?: boolean;
  readonly bridges?: number;
  /** `-m` value; default `512M,slots=4,maxmem=2G`. */
  readonly memory?: string;
  /** `-smp` value; default `1,maxcpus=4,sockets=4,cores=1,threads=1`. */
  readonly smp?: string;
  readonly machineExtra?: string;
  /** `-accel` value instead of `accel=tcg` on `-machine` (e.g. `tcg,thread=single`). */
  readonly accel?: string;
  readonly extra?: readonly string[];
  /** Run QEMU inside this network namespace (`ip netns exec`). */
  readonly netns?: string;
  readonly scsi?: boolean;
  readonly pcieRootPorts?: number;
  /** Extra guest kernel parameters. */
  readonly cmdline?: readonly string[];
  /** Ids of extra cold-plugged devices/objects given in `extra`. */
  readonly coldIds?: readonly string[];
}

/** A running QEMU for one test. */
export interface Vm {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly qmp: QmpClient;
  readonly dir: string;
  readonly bridges: BridgeState[];
  readonly agent?: GuestAgentClient;
  /** Ids on the command line (not hot-plugged). */
  readonly coldIds: ReadonlySet<string>;
}

const vms: Vm[] = [];
const listeners: GuestAgentListener[] = [];

/** A 0700 temp dir with a short path (socket paths stay ≤ 107 bytes). */
export function tempDir(): string {
  return mkdtempSync('/tmp/vmactor-hp-');
}

/** Launches QEMU with a pci-bridge (and optionally the guest) and negotiates QMP over fd 3. */
export async function launchVm(opts: VmOptions = {}): Promise<Vm> {
  const qemu = QEMU as string;
  const dir = tempDir();
  const bridges = createBridges(opts.bridges ?? 1, 'pci', 'pcie.0');
  const coldIds = new Set<string>(opts.coldIds ?? []);
  const args: string[] = [
    '-machine',
    `q35${opts.accel ? '' : ',accel=tcg'}${opts.machineExtra ? `,${opts.machineExtra}` : ''}`,
    ...(opts.accel ? ['-accel', opts.accel] : []),
    '-cpu',
    'qemu64',
    '-m',
    opts.memory ?? '512M,slots=4,maxmem=2G',
    '-smp',
    opts.smp ?? '1,maxcpus=4,sockets=4,cores=1,threads=1',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-chardev',
    'socket,id=mon0,fd=3',
    '-mon',
    'chardev=mon0,mode=control',
  ];
  for (const b of bridges) {
    args.push('-device', `pci-bridge,bus=pcie.0,id=${b.id},chassis_nr=${b.chassis},shpc=on,addr=${b.addr}`);
    coldIds.add(b.id);
  }
  for (let i = 0; i < (opts.pcieRootPorts ?? 0); i++) {
    args.push(
      '-device',
      `pcie-root-port,id=rp${i},bus=pcie.0,chassis=${10 + i},slot=${i},addr=${(0x10 + i).toString(16)}`,
    );
    coldIds.add(`rp${i}`);
  }
  if (opts.scsi) {
    args.push('-device', 'virtio-scsi-pci,id=scsi0,bus=pcie.0,addr=0x8');
    coldIds.add('scsi0');
  }
  let listener: GuestAgentListener | undefined;
  if (opts.guest) {
    listener = await listenGuestAgent(join(dir, 'agent.sock'));
    listeners.push(listener);
    args.push(
      ...guestQemuArgs({
        consoleFile: join(dir, 'console.log'),
        agent: { path: listener.path },
        ...(opts.cmdline ? { cmdlineExtra: opts.cmdline } : {}),
      }),
    );
    coldIds.add('vmactor-vserial0');
  } else {
    args.push('-S');
  }
  args.push(...(opts.extra ?? []));
  const stderr = await open(join(dir, 'qemu.stderr'), 'w');
  const argv0 = opts.netns ? 'ip' : qemu;
  const argv = opts.netns ? ['netns', 'exec', opts.netns, qemu, ...args] : args;
  const child = spawn(argv0, argv, { stdio: ['ignore', 'ignore', stderr.fd, 'pipe'], shell: false });
  await stderr.close();
  const exited = once(child, 'exit').then(async () => {
    throw new Error(`QEMU exited early: ${await readFile(join(dir, 'qemu.stderr'), 'utf8')}`);
  });
  exited.catch(() => undefined);
  const qmp = await Promise.race([
    QmpClient.connect(child.stdio[3] as Socket, { greetingTimeoutMs: 15_000 }),
    exited,
  ]);
  let agent: GuestAgentClient | undefined;
  if (listener) {
    agent = new GuestAgentClient(await Promise.race([listener.accept({ timeout: 20_000 }), exited]));
  }
  const vm: Vm = { child, pid: child.pid as number, qmp, dir, bridges, coldIds, ...(agent ? { agent } : {}) };
  vms.push(vm);
  return vm;
}

/** Kills every QEMU launched by this file (by PID) and removes the temp dirs; call in afterEach. */
export async function cleanupVms(): Promise<void> {
  for (const vm of vms.splice(0)) {
    vm.agent?.close();
    vm.qmp.close();
    if (alive(vm.pid)) {
      const gone =
        vm.child.exitCode === null && vm.child.signalCode === null
          ? once(vm.child, 'exit')
          : Promise.resolve();
      vm.child.kill('SIGKILL');
      await gone;
    }
    await rm(vm.dir, { recursive: true, force: true });
  }
  for (const l of listeners.splice(0)) await l.close();
}

/** A HotplugContext over a VM, recording the phases it reports. */
export function contextFor(
  vm: Vm,
  over: Partial<Omit<HotplugContext, 'emit'>> & { config?: HotplugConfig } = {},
): HotplugContext & { phases: { phase: HotplugPhase; detail?: unknown }[] } {
  const phases: { phase: HotplugPhase; detail?: unknown }[] = [];
  const limits: Partial<HotplugLimits> = { maxMemMiB: 2048, hostMemMiB: 1_000_000, ...over.limits };
  return {
    qmp: vm.qmp,
    state: over.state ?? DeviceState.create({ bridges: vm.bridges }),
    config: over.config ?? testConfig(),
    signal: over.signal ?? new AbortController().signal,
    emit: (phase, detail) => phases.push({ phase, detail }),
    limits,
    deadlines: { commandMs: 10_000, deviceDeletedMs: 20_000, guestMs: 45_000, ...over.deadlines },
    ...(over.guest ? { guest: over.guest } : {}),
    ...(over.paused !== undefined ? { paused: over.paused } : {}),
    accelerator: over.accelerator ?? 'tcg',
    ...(over.allowTcgVcpuUnplug ? { allowTcgVcpuUnplug: true } : {}),
    phases,
  };
}

/** What QEMU reports, reduced to what the device state records. */
export interface QmpView {
  /** Hot-plugged device ids under /machine/peripheral (cold-plugged ones removed), sorted. */
  readonly devices: string[];
  /** Block node names we create (`drive-*`), sorted. */
  readonly blockNodes: string[];
  /** Devices `query-block` shows a backend attached to (by qdev id), sorted. */
  readonly blockBackends: string[];
  /** Memory device ids (dimms, nvdimms, virtio-mem), sorted. */
  readonly memoryDevices: string[];
  /** vCPU device ids we added, sorted. */
  readonly cpus: string[];
  /** Chardevs we add (`char-*`), sorted. */
  readonly chardevs: string[];
  /** Objects we add (memory backends), sorted. */
  readonly objects: string[];
}

/** Queries QEMU: qom-list, query-named-block-nodes, query-block, query-memory-devices, query-hotpluggable-cpus, query-chardev, query-pci. */
export async function qmpView(vm: Vm): Promise<QmpView> {
  const q = vm.qmp;
  const periph = await q.execute('qom-list', { path: '/machine/peripheral' });
  const nodes = await q.execute('query-named-block-nodes', { flat: true });
  const mem = await q.execute('query-memory-devices');
  const cpus = await q.execute('query-hotpluggable-cpus');
  const chardevs = await q.execute('query-chardev');
  const objects = await q.execute('qom-list', { path: '/objects' });
  const blocks = await q.execute('query-block');
  const cpuIds = cpus
    .map((c) => c['qom-path'] ?? '')
    .filter((p) => p.startsWith('/machine/peripheral/'))
    .map((p) => p.slice('/machine/peripheral/'.length));
  return {
    devices: periph
      .filter((p) => p.type.startsWith('child<') && !vm.coldIds.has(p.name) && !cpuIds.includes(p.name))
      .map((p) => p.name)
      .sort(),
    blockNodes: nodes
      .map((n) => n['node-name'] ?? '')
      .filter((n) => n.startsWith('drive-'))
      .sort(),
    blockBackends: blocks
      .map((b) => (b.qdev ?? '').replace(/^\/machine\/peripheral\//, '').split('/')[0] ?? '')
      .filter((id) => id !== '' && !vm.coldIds.has(id))
      .sort(),
    memoryDevices: mem.map((m) => String(m.data.id ?? '')).sort(),
    cpus: cpuIds.sort(),
    chardevs: chardevs
      .map((c) => c.label)
      .filter((l) => l.startsWith('char-'))
      .sort(),
    objects: objects
      .filter(
        (o) => o.type.startsWith('child<memory-backend') && o.name !== 'pc.ram' && !vm.coldIds.has(o.name),
      )
      .map((o) => o.name)
      .sort(),
  };
}

/** What the recorded device state says QEMU should report (same shape as {@link qmpView}). */
export function recordedView(state: DeviceState): QmpView {
  const devices: string[] = [];
  const blockNodes: string[] = [];
  const blockBackends: string[] = [];
  const memoryDevices: string[] = [];
  const chardevs: string[] = [];
  const objects: string[] = [];
  for (const d of state.devices) {
    devices.push(d.id);
    if (d.kind === 'block' && d.nodeName) {
      blockNodes.push(d.nodeName);
      blockBackends.push(d.id);
    }
    if (d.kind === 'block' && d.nvdimm) {
      memoryDevices.push(d.id);
      objects.push(d.nvdimm.backendId);
    }
    if (d.kind === 'vhost-user-blk') chardevs.push(d.chardevId);
  }
  for (const m of state.dimms) {
    devices.push(m.id);
    memoryDevices.push(m.id);
    objects.push(m.backendId);
  }
  if (state.virtioMem) {
    devices.push(state.virtioMem.id);
    memoryDevices.push(state.virtioMem.id);
    objects.push(state.virtioMem.backendId);
  }
  return {
    devices: devices.sort(),
    blockNodes: blockNodes.sort(),
    blockBackends: blockBackends.sort(),
    memoryDevices: memoryDevices.sort(),
    cpus: state.vcpus.map((c) => c.id).sort(),
    chardevs: chardevs.sort(),
    objects: objects.sort(),
  };
}

/** QEMU's run state (`prelaunch`, `running`, `paused`, ...). */
export async function runState(vm: Vm): Promise<string> {
  return (await vm.qmp.execute('query-status')).status;
}

/**
 * Where QEMU put a device: its parent bus (`qom-get parent_bus`, e.g. `pci-bridge-0`) and PCI
 * slot (`addr` >> 3). Before the firmware ran (-S) bridges have no bus number yet, so `query-pci`
 * cannot see behind them; QOM can.
 */
export async function placementOf(vm: Vm, id: string): Promise<{ bus: string; slot?: number }> {
  const bus = String(await vm.qmp.execute('qom-get', { path: id, property: 'parent_bus' }));
  const props = await vm.qmp.execute('qom-list', { path: id });
  const hasAddr = props.some((p) => p.name === 'addr');
  const addr = hasAddr ? Number(await vm.qmp.execute('qom-get', { path: id, property: 'addr' })) : undefined;
  return { bus: bus.split('/').pop() ?? bus, ...(addr !== undefined ? { slot: addr >> 3 } : {}) };
}
