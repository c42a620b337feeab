// planQemu: the pure function from a validated sandbox config to QEMU's argv, fds and paths.
import { cpus, totalmem } from 'node:os';
import type { ValidatedConfig } from '../config/types.js';
import { archSpec, machineSpec } from './arch/index.js';
import type { Accelerator, ArchSpec, MachineSpec } from './arch/types.js';
import { addDeviceToBridge, type BridgeState, createBridges } from './bridges.js';
import { deviceArgs } from './devices/index.js';
import type {
  BlockDevice,
  CharDevice,
  DeviceContext,
  NvdimmDevice,
  QemuDevice,
  QemuDeviceType,
  VirtioOptions,
} from './devices/types.js';
import { PlanError } from './errors.js';
import { formatOptions } from './escape.js';
import { knobsArgs } from './knobs.js';
import { machineArg } from './machine.js';
import { memoryArg } from './memory.js';
import { type MemoryBackend, memoryBackendArg } from './objects.js';
import { type PlanPaths, planPaths } from './paths.js';
import { type PlanConfigOptions, planSpecFromConfig } from './plan-config.js';
import type { PlanSpec } from './plan-spec.js';
import { cpuTopology, smpArg } from './smp.js';
import { virtiofsdArgs } from './virtiofsd.js';

/** Options of {@link planQemu} that are about the host and the launcher, not the sandbox. */
export interface PlanOptions {
  /** The sandbox run dir (absolute); every derived path lives under it. */
  readonly runDir: string;
  /**
   * fd of the controller's QMP socketpair as QEMU sees it (e.g. 3): adds
   * `-chardev socket,id=mon0,fd=N -mon chardev=mon0,mode=control`.
   */
  readonly qmpFd?: number;
  /** Host CPUs (default max vCPUs); default `os.cpus().length`. */
  readonly hostCpus?: number;
  /** Host memory in MiB (maxmem); default `os.totalmem()`. */
  readonly hostMemoryMiB?: number;
  /** Default `tcg`: /dev/kvm here does not run guests. */
  readonly accelerator?: Accelerator;
  /** virtiofsd gets its listening socket as this fd (`--fd=N`) instead of `--socket-path`. */
  readonly virtiofsdFd?: number;
}

/** An extra fd the launcher must pass to QEMU at the given number. */
export interface PlannedFd {
  readonly fd: number;
  /** What the fd is: `tap` queue, `vhost-net`, `vhost-vsock`. */
  readonly purpose: 'tap' | 'vhost-net' | 'vhost-vsock';
  /** The device that uses it. */
  readonly deviceId: string;
}

/** Where a planned device ends up (what QMP's query-pci / qom-list should show). */
export interface PlannedDevice {
  /** The `-device` id (QOM path `/machine/peripheral/<id>`). */
  readonly id: string;
  readonly type: QemuDeviceType;
  /** Bus the device is plugged into (`pcie.0`, `pci.0`, `serial0.0`, `scsi0.0`), when known. */
  readonly bus?: string;
  /** Slot on a PCI bus, hex (`'02'`). */
  readonly addr?: string;
  /** CCW device number (s390x), `fe.0.0001`. */
  readonly devno?: string;
  /** The host path it uses: block file, chardev socket, 9p dir, vhost-user socket, nvdimm backing file. */
  readonly path?: string;
  /** Chardev id (char devices, vhost-user), or drive id (block). */
  readonly backendId?: string;
  /** Mount tag (9p, virtio-fs). */
  readonly tag?: string;
}

/** Everything needed to launch QEMU for a sandbox. */
export interface QemuPlan {
  /** argv[0] is the QEMU binary. */
  readonly argv: string[];
  /** Extra fds to pass (beyond `qmpFd`). */
  readonly fds: PlannedFd[];
  readonly paths: PlanPaths;
  /** Bridge state after cold-plug, for hotplug to continue from. */
  readonly bridges: BridgeState[];
  /** The devices on the command line and where they are. */
  readonly devices: PlannedDevice[];
  /** The arch, machine, accelerator and CPU model chosen. */
  readonly machine: {
    readonly arch: string;
    readonly type: string;
    readonly accel: Accelerator;
    readonly cpu: string;
  };
  /** virtiofsd's argv (argv[0] the binary), when the shared fs is virtio-fs. */
  readonly virtiofsd?: { readonly argv: string[] };
}

/** Chardev id of the QMP monitor on `<runDir>/qmp.sock`. */
export const QMP_PATH_CHARDEV = 'qmp-path';

/** Mount tag of the sandbox's shared directory (Kata's `kataShared`). */
export const SHARED_FS_TAG = 'kataShared';
/** Id of the guest RAM backend when it is explicit (govmm's `dimm1`). */
export const MEMORY_BACKEND_ID = 'dimm1';

/** Root-bus slots the platform occupies, per machine (q35: host bridge 00, LPC 1f; pc: 00, PIIX 01). */
const RESERVED_ROOT_SLOTS: Readonly<Record<string, readonly number[]>> = {
  pc: [0, 1],
  q35: [0, 0x1f],
  virt: [0],
  pseries: [0],
};

/** QEMU options a user's hypervisor_params may not set: vmactor supervises and owns them. */
const FORBIDDEN_PARAMS: ReadonlySet<string> = new Set([
  'daemonize',
  'pidfile',
  'qmp',
  'mon',
  'name',
  'uuid',
  'S',
]);

const PCI_CAPABLE: ReadonlySet<QemuDeviceType> = new Set<QemuDeviceType>([
  'block',
  'fs',
  'serial',
  'net',
  'vhost-user',
  'vfio',
  'scsi-controller',
  'vsock',
  'rng',
  'balloon',
  'pcie-root-port',
]);

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Hands out root-bus slots to PCI devices without an explicit address. */
class RootBus {
  private readonly used = new Set<number>();
  constructor(
    readonly bus: string,
    reserved: readonly number[],
  ) {
    for (const s of reserved) this.used.add(s);
  }
  reserve(slot: number): void {
    this.used.add(slot);
  }
  next(forId: string): string {
    for (let s = 0; s < 32; s++) {
      if (!this.used.has(s)) {
        this.used.add(s);
        return hex2(s);
      }
    }
    throw new PlanError(
      `Expected a free slot on the root bus \`${this.bus}\` for \`${forId}\`, but all 32 are taken`,
    );
  }
}

/** The `-device` id a device gets (its QOM name under /machine/peripheral), if it has one. */
function deviceIdOf(d: QemuDevice): string | undefined {
  switch (d.type) {
    case 'nvdimm':
      return d.deviceId;
    case 'char':
      return d.driver === 'serial' ? undefined : d.deviceId;
    case 'net':
      return d.deviceId ?? d.id;
    case 'vhost-user':
      return d.vhostType === 'net' ? undefined : d.typeDevId;
    case 'rng':
      return d.deviceId;
    case 'vfio':
      return d.id;
    case 'iommu':
    case 'pvpanic':
    case 'loader':
      return undefined;
    default:
      return d.id;
  }
}

/** pseries hands out NVDIMM space in 256 MiB blocks (SPAPR_MINIMUM_SCM_BLOCK_SIZE). */
const PSERIES_NVDIMM_ALIGN = 256 * 1024 * 1024;

/** What QEMU would refuse about an nvdimm on this arch, refused before launch with a typed error. */
function checkNvdimm(spec: PlanSpec, d: NvdimmDevice): void {
  if (spec.arch === 'arm64' && spec.firmware === undefined && (spec.pflash ?? []).length === 0) {
    throw new PlanError(
      `Expected UEFI firmware (\`firmwarePath\` or \`pflash\`) for nvdimm \`${d.deviceId}\` on arm64 virt (its ACPI GED device needs it), or \`disableImageNvdimm\`/another block driver`,
    );
  }
  if (spec.arch === 'ppc64le' && d.size % PSERIES_NVDIMM_ALIGN !== 0) {
    throw new PlanError(
      `Expected the size of nvdimm \`${d.deviceId}\` (\`${d.memPath}\`) to be a multiple of 256 MiB on pseries, got ${d.size} bytes`,
    );
  }
}

function extraInfo(d: QemuDevice): Partial<PlannedDevice> {
  switch (d.type) {
    case 'block':
      return { path: d.file, backendId: d.id };
    case 'char':
      return d.path !== undefined ? { path: d.path, backendId: d.id } : { backendId: d.id };
    case 'fs':
      return { path: d.path, tag: d.mountTag };
    case 'vhost-user':
      return { path: d.socketPath, backendId: d.charDevId, ...(d.tag !== undefined ? { tag: d.tag } : {}) };
    case 'nvdimm':
      return { path: d.memPath, backendId: d.id };
    default:
      return {};
  }
}

function isVirtioLike(d: QemuDevice): boolean {
  if (!PCI_CAPABLE.has(d.type)) return false;
  if (d.type === 'block' && d.driver === 'scsi-hd') return false;
  if (d.type === 'vfio' && d.driver !== undefined && d.driver !== 'vfio-pci') return false;
  return true;
}

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

/**
 * Builds the QEMU plan of a sandbox: argv (argv[0] the binary), extra fds, run-dir paths, bridge
 * state and device placement. Pure: reads no files and starts nothing (host CPU/memory default
 * to `node:os` values when not given).
 *
 * Choices, where the seeds leave room or QEMU 7.2 differs:
 * - Accelerator `tcg` unless told (`kvm`); CPU `host` under KVM, `max` under TCG (`POWER9` on
 *   ppc64le, which has no `max`), then `cpu_features`.
 * - Bridges first at root slots 2.. (Kata's bridgePCIStartAddr); every other cold-plugged PCI
 *   device gets an explicit root-bus slot after them, so `devices` says where QMP will find it.
 *   s390x devices get CCW devnos `fe.0.xxxx` from the CCW allocator (kept in `bridges`).
 * - Guest RAM gets an explicit backend (`dimm1` + `-numa node`; `-machine memory-backend=` on
 *   s390x) only when needed: virtio-fs → `memory-backend-memfd,share=on`; `file_mem_backend` →
 *   a file there; templates → the `memoryPath` file (share=on to become one, off to boot from
 *   one, with `-incoming defer`); hugepages → memfd `hugetlb=on` (not `/dev/hugepages`, which
 *   QEMU silently fills with a plain file where hugetlbfs is not mounted); mem-prealloc → ram.
 * - Memory locking is `-overcommit mem-lock=on` (QEMU 7.2 removed `-realtime mlock=`), only with
 *   realtime, as Kata's Mlock. `-global kvm-pit...` on amd64 only. Never `-daemonize`.
 * - The reattach monitor is `-chardev socket,path=<runDir>/qmp.sock` + `-mon` (not
 *   `-qmp unix:<path>`, which misparses a path containing `=`).
 * - The shared directory is an fs device of the config (src/config models shares as devices),
 *   not added implicitly; at most one virtio-fs share, served by one virtiofsd on `vhost-fs.sock`.
 * - vsock without a vhost fd (QEMU opens /dev/vhost-vsock); tap/vhost fds given in the config are
 *   reported in `fds` for the launcher to pass.
 *
 * @example
 * const plan = planQemuSpec(spec, { runDir: '/run/vmactor/sb1', qmpFd: 3 });
 * spawn(plan.argv[0], plan.argv.slice(1), { stdio: ['ignore', out, err, 'pipe'] });
 */
export function planQemuSpec(spec: PlanSpec, opts: PlanOptions): QemuPlan {
  const arch: ArchSpec = archSpec(spec.arch);
  const machine: MachineSpec = machineSpec(spec.arch, spec.machineType);
  const accel: Accelerator = opts.accelerator ?? 'tcg';
  const ctx: DeviceContext = { arch: spec.arch, machineType: machine.type };
  const virtioFs = spec.virtioFs !== undefined;
  const paths = planPaths(opts.runDir, virtioFs);
  const nested = spec.nested === true;
  const hostCpus = opts.hostCpus ?? cpus().length;
  const hostMemoryMiB = opts.hostMemoryMiB ?? Math.floor(totalmem() / (1024 * 1024));

  if (spec.template !== 'none' && (spec.sharedMemory || virtioFs || spec.fileBackedMemRootDir)) {
    throw new PlanError('VM templating cannot be combined with virtio-fs or file-backed memory');
  }
  if (spec.enableVhostUserStore && !spec.hugePages) {
    throw new PlanError(
      'Expected `hugePages` when `enableVhostUserStore` is on (vhost-user-blk/scsi needs shared hugepages)',
    );
  }
  if (spec.template !== 'none' && !spec.memoryPath) {
    throw new PlanError('Expected `memoryPath` for a template boot');
  }

  // --- topology
  const maxVcpus = spec.maxVcpus > 0 ? spec.maxVcpus : hostCpus;
  const smp = cpuTopology(spec.vcpus, maxVcpus);
  const memory = arch.memoryTopology(spec.memoryMiB, hostMemoryMiB, spec.memSlots, spec.memOffsetMiB);

  // --- the guest RAM backend (govmm appendMemoryKnobs + Kata setupTemplate/setupFileBackedMem)
  let backend: MemoryBackend | undefined;
  const fileBacked = spec.sharedMemory || virtioFs || spec.fileBackedMemRootDir !== undefined;
  if (spec.hugePages) {
    // govmm uses mem-path=/dev/hugepages; where that is not a hugetlbfs mount QEMU silently
    // creates a plain file there. memfd hugetlb=on asks the kernel's huge page pool directly.
    backend = {
      kind: 'memfd',
      id: MEMORY_BACKEND_ID,
      sizeMiB: spec.memoryMiB,
      hugetlb: true,
      share: true,
      prealloc: true,
    };
  } else if (spec.template !== 'none') {
    backend = {
      kind: 'file',
      id: MEMORY_BACKEND_ID,
      sizeMiB: spec.memoryMiB,
      memPath: spec.memoryPath,
      share: spec.template === 'to-be',
      prealloc: spec.memPrealloc,
    };
  } else if (spec.fileBackedMemRootDir !== undefined) {
    backend = {
      kind: 'file',
      id: MEMORY_BACKEND_ID,
      sizeMiB: spec.memoryMiB,
      memPath: spec.fileBackedMemRootDir,
      share: true,
      prealloc: spec.memPrealloc,
    };
  } else if (fileBacked) {
    backend = {
      kind: 'memfd',
      id: MEMORY_BACKEND_ID,
      sizeMiB: spec.memoryMiB,
      share: true,
      prealloc: spec.memPrealloc,
    };
  } else if (spec.memPrealloc) {
    backend = { kind: 'ram', id: MEMORY_BACKEND_ID, sizeMiB: spec.memoryMiB, prealloc: true };
  }

  // --- devices
  const devices: QemuDevice[] = [];
  const planned: PlannedDevice[] = [];
  const fds: PlannedFd[] = [];
  const ids = new Set<string>();
  const root = machine.rootBus
    ? new RootBus(machine.rootBus, RESERVED_ROOT_SLOTS[machine.type] ?? [0])
    : undefined;
  // CCW always has subchannel set 0; a machine without a PCI root bus (microvm) has no bridges,
  // as Kata's genericBridges returns none for machine types it does not know.
  let bridges: BridgeState[] = createBridges(
    machine.bridgeType === 'ccw'
      ? Math.max(1, spec.defaultBridges)
      : machine.rootBus === undefined
        ? 0
        : spec.defaultBridges,
    machine.bridgeType,
    machine.rootBus,
  );

  const claimId = (id: string | undefined) => {
    if (id === undefined) return;
    if (ids.has(id)) throw new PlanError(`Expected device ids to be unique, got \`${id}\` twice`);
    ids.add(id);
  };

  /** Places a device: explicit root-bus slot (PCI) or CCW devno (s390x), then records it. */
  const place = (d: QemuDevice): void => {
    if (d.type === 'nvdimm') checkNvdimm(spec, d);
    const id = deviceIdOf(d);
    claimId(id);
    let placedDev: QemuDevice = d;
    let info: PlannedDevice | undefined;
    if (isVirtioLike(d)) {
      const v = d as QemuDevice & VirtioOptions;
      if (machine.bridgeType === 'ccw' && v.type !== 'pcie-root-port' && (v.transport ?? 'ccw') === 'ccw') {
        let devno = v.devno;
        if (devno === undefined) {
          const slot = addDeviceToBridge(bridges, id ?? `anon-${planned.length}`, 'ccw');
          bridges = slot.bridges;
          devno = slot.devno;
        }
        placedDev = { ...v, devno } as QemuDevice;
        if (id !== undefined) info = { id, type: d.type, devno };
      } else if (root) {
        if (v.bus === undefined && v.addr === undefined) {
          const addr = root.next(id ?? d.type);
          placedDev = { ...v, bus: root.bus, addr } as QemuDevice;
          if (id !== undefined) info = { id, type: d.type, bus: root.bus, addr };
        } else {
          if ((v.bus === undefined || v.bus === root.bus) && v.addr !== undefined) {
            root.reserve(Number.parseInt(v.addr.split('.')[0] ?? '', 16));
          }
          if (id !== undefined) info = { id, type: d.type, bus: v.bus ?? root.bus, addr: v.addr };
        }
      }
    } else if (d.type === 'char' && id !== undefined) {
      info = { id, type: d.type, bus: d.bus };
    } else if (d.type === 'block' && d.driver === 'scsi-hd' && id !== undefined) {
      info = { id, type: d.type, bus: d.scsi?.bus };
    } else if (id !== undefined) {
      info = { id, type: d.type };
    }
    devices.push(placedDev);
    if (info) planned.push({ ...info, ...extraInfo(d) });
  };

  // Bridges first, so they get the first root-bus addresses (bridgePCIStartAddr).
  for (const b of bridges) {
    if (b.type === 'ccw') continue;
    claimId(b.id);
    root?.reserve(b.addr);
    devices.push({
      type: 'bridge',
      bridgeType: b.type,
      bus: b.bus ?? machine.rootBus ?? 'pci.0',
      id: b.id,
      chassis: b.chassis,
      shpc: true,
      addr: String(b.addr),
    });
    planned.push({ id: b.id, type: 'bridge', bus: b.bus, addr: hex2(b.addr) });
  }

  const modern = {
    ...(nested ? { disableModern: true } : {}),
    ...(spec.iommuPlatform ? { iommuPlatform: true } : {}),
  };
  if (spec.iommu) {
    if (machine.type !== 'q35') {
      throw new PlanError(`Expected \`iommu\` only on amd64 q35, got machine \`${machine.type}\``);
    }
    devices.push({ type: 'iommu', intremap: true, deviceIotlb: true, cachingMode: true });
  }
  // Console: virtio-serial bus + virtconsole on a socket chardev (Kata appendConsole).
  place({ type: 'serial', driver: 'virtio-serial', id: 'serial0', ...modern });
  place({
    type: 'char',
    driver: 'virtconsole',
    backend: 'socket',
    id: 'charconsole0',
    deviceId: 'console0',
    bus: 'serial0.0',
    path: paths.consoleSocket,
  } satisfies CharDevice);

  // The image (no initrd): an nvdimm where the arch supports it, else a virtio-blk disk.
  let nvdimm = false;
  if (spec.image !== undefined && spec.initrd === undefined) {
    if (!spec.disableImageNvdimm && machine.nvdimm) {
      if (spec.imageSizeBytes === undefined) {
        throw new PlanError(
          `Expected the image \`${spec.image}\` to exist: an nvdimm image's backend size is the file's size (or set \`disableImageNvdimm\`)`,
        );
      }
      nvdimm = true;
      place({
        type: 'nvdimm',
        id: 'mem0',
        deviceId: 'nv0',
        memPath: spec.image,
        size: spec.imageSizeBytes,
        readOnly: true,
      } satisfies NvdimmDevice);
    } else {
      place({
        type: 'block',
        id: 'image0',
        file: spec.image,
        format: 'raw',
        aio: 'threads',
        driver: 'virtio-blk',
        ...modern,
      } satisfies BlockDevice);
    }
  }

  // SCSI controller (+ iothread) when the block driver is virtio-scsi.
  const scsiDisks = spec.devices.some((d) => d.type === 'block' && d.driver === 'scsi-hd');
  if (spec.blockDeviceDriver === 'virtio-scsi' || scsiDisks) {
    place({
      type: 'scsi-controller',
      id: 'scsi0',
      ...(spec.enableIOThreads ? { iothread: 'iothread0' } : {}),
      ...modern,
    });
  }

  // RNG from entropy_source.
  place({ type: 'rng', id: 'rng0', deviceId: 'rng0', filename: spec.entropySource, ...modern });

  // PCIe root ports.
  if (spec.pcieRootPorts > 0) {
    if (!machine.pcie) {
      throw new PlanError(
        `Expected \`pcieRootPorts\` to be 0 on machine \`${machine.type}\` (no PCIe root bus), got ${spec.pcieRootPorts}`,
      );
    }
    for (let i = 0; i < spec.pcieRootPorts; i++) {
      place({ type: 'pcie-root-port', id: `rp${i}`, chassis: 0, slot: i });
    }
  }

  // Agent channel: vsock, or a virtserialport named agent.channel.0 on kata.sock.
  const vsockGiven = spec.devices.some((d) => d.type === 'vsock');
  if (spec.useVsock && vsockGiven) {
    // The user's vsock device is the agent channel.
  } else if (spec.useVsock) {
    const cid = spec.vsockContextId ?? 3;
    place({ type: 'vsock', id: `vsock-${cid}`, contextId: cid, ...modern });
  } else {
    place({
      type: 'char',
      driver: 'virtserialport',
      backend: 'socket',
      id: 'charch0',
      deviceId: 'channel0',
      bus: 'serial0.0',
      path: paths.agentSocket,
      name: 'agent.channel.0',
    } satisfies CharDevice);
  }

  // The virtio-fs share: vhost-user-fs on virtiofsd's socket.
  let virtiofsd: QemuPlan['virtiofsd'];
  if (spec.virtioFs) {
    const fs = spec.virtioFs;
    const socketPath = paths.virtiofsdSocket as string;
    place({
      type: 'vhost-user',
      vhostType: 'fs',
      socketPath,
      charDevId: `char-${fs.deviceId}`,
      typeDevId: fs.deviceId,
      tag: fs.tag,
      ...(fs.cacheSize ? { cacheSize: fs.cacheSize } : {}),
      ...(fs.queueSize !== undefined ? { queueSize: fs.queueSize } : {}),
    });
    virtiofsd = {
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

  // The user's cold-plugged devices.
  for (const d of spec.devices) {
    if (d.type === 'nvdimm') nvdimm = true;
    place(d);
    if (d.type === 'net') {
      const did = deviceIdOf(d) ?? d.id;
      for (const fd of d.fds ?? []) fds.push({ fd, purpose: 'tap', deviceId: did });
      for (const fd of d.vhostFds ?? []) fds.push({ fd, purpose: 'vhost-net', deviceId: did });
    } else if (d.type === 'vsock' && d.vhostFd !== undefined) {
      fds.push({ fd: d.vhostFd, purpose: 'vhost-vsock', deviceId: d.id });
    }
  }
  const taken = new Set<number>(opts.qmpFd !== undefined ? [opts.qmpFd] : []);
  for (const f of fds) {
    if (f.fd < 3 || taken.has(f.fd)) {
      throw new PlanError(`Expected fd numbers to be unique and ≥ 3, got ${f.fd} for \`${f.deviceId}\``);
    }
    taken.add(f.fd);
  }

  // --- argv, in govmm LaunchQemu's order
  const cpuModel = arch.cpuModel(accel, nested) + (spec.cpuFeatures ? `,${spec.cpuFeatures}` : '');
  const argv: string[] = [spec.qemuPath ?? arch.qemuBinary];
  argv.push('-name', `sandbox-${spec.id}`);
  if (spec.uuid) argv.push('-uuid', spec.uuid);
  argv.push(
    '-machine',
    machineArg(machine, {
      accel,
      nvdimm,
      ...(spec.iommu && accel === 'kvm' ? { extraOptions: ['kernel_irqchip=split'] } : {}),
      ...(backend && !arch.numa ? { memoryBackend: backend.id } : {}),
      ...(spec.machineAccelerators ? { machineAccelerators: spec.machineAccelerators } : {}),
    }),
  );
  argv.push('-cpu', cpuModel);
  if (opts.qmpFd !== undefined) {
    argv.push('-chardev', `socket,id=mon0,fd=${opts.qmpFd}`, '-mon', 'chardev=mon0,mode=control');
  }
  // The reattach monitor on a path. Not `-qmp unix:<path>`: that legacy syntax takes the path as an
  // implied first value and misparses a path containing `=`; `path=` as a keyed value does not.
  argv.push(
    '-chardev',
    formatOptions([
      'socket',
      ['id', QMP_PATH_CHARDEV],
      ['path', paths.qmpSocket],
      ['server', true],
      ['wait', false],
    ]),
    '-mon',
    `chardev=${QMP_PATH_CHARDEV},mode=control`,
  );
  argv.push('-m', memoryArg(memory));
  for (const d of devices) argv.push(...deviceArgs(d, ctx));
  argv.push('-smp', smpArg(smp));
  argv.push('-rtc', 'base=utc,driftfix=slew,clock=host');
  if (spec.arch === 'amd64') argv.push('-global', 'kvm-pit.lost_tick_policy=discard');
  for (const [i, file] of (spec.pflash ?? []).entries()) {
    argv.push(
      '-drive',
      formatOptions([
        'if=pflash',
        ['format', 'raw'],
        ['unit', i],
        i === 0 && ['readonly', true],
        ['file', file],
      ]),
    );
  }
  argv.push('-vga', 'none');
  argv.push(
    ...knobsArgs({
      noUserConfig: true,
      noDefaults: true,
      noGraphic: true,
      mlock: spec.mlock,
      ...(spec.seccompSandbox !== undefined ? { seccompSandbox: spec.seccompSandbox } : {}),
    }),
  );
  if (backend) {
    argv.push('-object', memoryBackendArg(backend));
    if (arch.numa) argv.push('-numa', `node,memdev=${backend.id}`);
  }
  argv.push('-kernel', spec.kernel);
  if (spec.initrd !== undefined) argv.push('-initrd', spec.initrd);
  if (spec.kernelParams !== '') argv.push('-append', spec.kernelParams);
  if (spec.firmware !== undefined) argv.push('-bios', spec.firmware);
  if (spec.template === 'from') argv.push('-incoming', 'defer');
  argv.push('-pidfile', paths.pidFile);
  for (const p of spec.hypervisorParams ?? []) {
    const key = p.key.replace(/^-+/, '');
    if (FORBIDDEN_PARAMS.has(key)) {
      throw new PlanError(`Expected \`hypervisorParams\` not to set \`${key}\` (vmactor owns it)`);
    }
    argv.push(`-${key}`);
    if (p.value !== '') argv.push(p.value);
  }

  return {
    argv,
    fds,
    paths,
    bridges,
    devices: planned,
    machine: { arch: spec.arch, type: machine.type, accel, cpu: cpuModel },
    ...(virtiofsd ? { virtiofsd } : {}),
  };
}
