// planQemu: the pure function from a validated sandbox config to QEMU's argv, fds, paths and
// the initial device record, as small named steps (plan-*.ts).
import { cpus, totalmem } from 'node:os';
import type { ValidatedConfig } from '../config/types.js';
import type { DeviceRecordData } from '../devices/record-types.js';
import { archSpec, machineSpec } from './arch/index.js';
import type { Accelerator } from './arch/types.js';
import type { DeviceContext } from './devices/types.js';
import { type PlanPaths, planPaths } from './paths.js';
import { assembleArgv } from './plan-argv.js';
import { type PlanConfigOptions, planSpecFromConfig } from './plan-config.js';
import { checkMemorySettings, guestMemoryBackend } from './plan-memory.js';
import { DevicePlacer } from './plan-placer.js';
import { placeAgentChannel, placeBridges, placePlatformDevices } from './plan-platform.js';
import type { PlanSpec } from './plan-spec.js';
import type { PlannedPaths, PlanOptions, QemuPlan } from './plan-types.js';
import { placeUserDevices } from './plan-user-devices.js';
import { cpuTopology } from './smp.js';
import { virtiofsdArgs } from './virtiofsd.js';

export type { PlannedDevice, PlannedFd, PlanOptions, QemuPlan } from './plan-types.js';
export { MEMORY_BACKEND_ID, QMP_PATH_CHARDEV, SHARED_FS_TAG } from './plan-types.js';

/** Options of {@link planQemu}: the launcher's and the host's facts. */
export type PlanQemuOptions = PlanOptions & PlanConfigOptions;

/**
 * Builds the QEMU plan of a validated sandbox config (see {@link planQemuSpec} for the choices).
 *
 * @example
 * const plan = planQemu(validateConfig(input), { runDir: '/run/vmactor/sb1', qmpFd: 3 });
 * console.log(plan.argv.join(' '));
 */
export function planQemu(config: ValidatedConfig, opts: PlanQemuOptions): QemuPlan {
  return planQemuSpec(planSpecFromConfig(config, opts), opts);
}

/** The virtiofsd command of the sandbox's virtio-fs share, if it has one. */
function virtiofsdOf(
  spec: PlanSpec,
  socketPath: string | undefined,
  opts: PlanOptions,
): QemuPlan['virtiofsd'] {
  const fs = spec.virtioFs;
  if (!fs || socketPath === undefined) return undefined;
  return {
    argv: virtiofsdArgs({
      ...(fs.daemon !== undefined ? { binary: fs.daemon } : {}),
      ...(opts.virtiofsdFd !== undefined ? { fd: opts.virtiofsdFd } : { socketPath }),
      source: fs.source,
      cache: fs.cache,
      debug: spec.debug,
      ...(fs.threadPoolSize !== undefined ? { threadPoolSize: fs.threadPoolSize } : {}),
      ...(fs.extraArgs !== undefined ? { extraArgs: fs.extraArgs } : {}),
    }),
  };
}

/** The plan's paths without the sockets of the default devices the spec leaves out. */
function plannedPaths(paths: PlanPaths, spec: PlanSpec): PlannedPaths {
  const { qmpSocket, consoleSocket, agentSocket, ...rest } = paths;
  return {
    ...rest,
    ...(spec.omit?.reattachMonitor ? {} : { qmpSocket }),
    ...(spec.omit?.console ? {} : { consoleSocket }),
    ...(spec.omit?.agentChannel ? {} : { agentSocket }),
  };
}

/**
 * Builds the QEMU plan of a sandbox: argv (argv[0] the binary), extra fds, run-dir paths, bridge
 * state, device placement and the initial device record. Pure: reads no files and starts nothing
 * (host CPU/memory default to `node:os` values when not given). Steps: topology, memory backend
 * (plan-memory), platform devices (plan-platform), user devices (plan-user-devices), argv
 * (plan-argv).
 *
 * Choices, where Kata's qemu.go leaves room or QEMU 7.2 differs:
 * - Accelerator `tcg` unless told (`kvm`); CPU `host` under KVM, `max` under TCG (`POWER9` on
 *   ppc64le, which has no `max`), then `cpu_features`.
 * - Bridges first at root slots 2.. (Kata's bridgePCIStartAddr); every other cold-plugged PCI
 *   device gets an explicit root-bus slot after them, so `devices` says where QMP will find it.
 *   s390x devices get CCW devnos `fe.0.xxxx` from the CCW allocator (kept in `bridges`).
 * - Devices are their builders' QMP objects in JSON form (`-device '{...}'`, `-blockdev`,
 *   `-object`, `-netdev`), named as hot plug names them (`drive-<id>`, `net-<id>`, `char-<id>`).
 * - Guest RAM gets an explicit backend only when needed (see plan-memory.ts).
 * - Memory locking is `-overcommit mem-lock=on` (QEMU 7.2 removed `-realtime mlock=`), only with
 *   realtime, as Kata's Mlock. `-global kvm-pit...` on amd64 only. Never `-daemonize`.
 * - The shared directory is an fs device of the config (src/config models shares as devices),
 *   not added implicitly; at most one virtio-fs share, served by one virtiofsd on `vhost-fs.sock`.
 * - Host fds in the config (tap, vhost-net, vhost-vsock) are renumbered for QEMU: 4, 5, ... after
 *   QMP's fd 3 (`fds[i].fd`), and the launcher passes `stdio[fd] = hostFd`.
 *
 * @example
 * const plan = planQemuSpec(spec, { runDir: '/run/vmactor/sb1', qmpFd: 3 });
 * spawn(plan.argv[0], plan.argv.slice(1), { stdio: ['ignore', out, err, 'pipe', ...plan.fds.map((f) => f.hostFd)] });
 */
export function planQemuSpec(spec: PlanSpec, opts: PlanOptions): QemuPlan {
  const arch = archSpec(spec.arch);
  const machine = machineSpec(spec.arch, spec.machineType);
  const accel: Accelerator = opts.accelerator ?? 'tcg';
  const ctx: DeviceContext = { arch: spec.arch, machineType: machine.type };
  const paths = planPaths(opts.runDir, spec.virtioFs !== undefined);
  checkMemorySettings(spec);

  // Topology.
  const maxVcpus = spec.maxVcpus > 0 ? spec.maxVcpus : (opts.hostCpus ?? cpus().length);
  const smp = cpuTopology(spec.vcpus, maxVcpus);
  const hostMemoryMiB = opts.hostMemoryMiB ?? Math.floor(totalmem() / (1024 * 1024));
  const memory = arch.memoryTopology(spec.memoryMiB, hostMemoryMiB, spec.memSlots, spec.memOffsetMiB);
  const backend = guestMemoryBackend(spec);

  // Devices: bridges, platform, agent channel, then the user's.
  const placer = new DevicePlacer(spec, machine);
  placeBridges(placer, machine);
  placePlatformDevices(placer, spec, machine, paths);
  placeAgentChannel(placer, spec, paths);
  const user = placeUserDevices(placer, spec, ctx, paths, (opts.qmpFd ?? 3) + 1);

  const cpuModel =
    arch.cpuModel(accel, spec.nested === true) + (spec.cpuFeatures ? `,${spec.cpuFeatures}` : '');
  const argv = assembleArgv({
    spec,
    arch,
    machine,
    accel,
    cpuModel,
    ctx,
    paths,
    memory,
    smp,
    backend,
    devices: placer.devices,
    nvdimm: placer.nvdimm,
    qmpFd: opts.qmpFd,
  });
  const record: DeviceRecordData = {
    version: 1,
    devices: user.entries,
    bridges: placer.bridges,
    rootPorts: Object.fromEntries(Array.from({ length: spec.pcieRootPorts }, (_, i) => [`rp${i}`, null])),
    vcpus: [],
    nextVcpu: 0,
    dimms: [],
    hotpluggedMemoryMiB: 0,
    virtioMem: null,
  };
  const virtiofsd = virtiofsdOf(spec, paths.virtiofsdSocket, opts);
  return {
    argv,
    fds: user.fds,
    paths: plannedPaths(paths, spec),
    bridges: placer.bridges,
    devices: placer.planned,
    record,
    machine: { arch: spec.arch, type: machine.type, accel, cpu: cpuModel },
    ...(virtiofsd ? { virtiofsd } : {}),
  };
}
