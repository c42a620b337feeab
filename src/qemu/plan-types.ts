// The QEMU plan's result and options: argv, fds, paths, bridges, placed devices, the device record.

import type { BridgeState } from '../devices/bridges.js';
import type { DeviceRecordData } from '../devices/record-types.js';
import type { Accelerator } from './arch/types.js';
import type { FdPurpose } from './devices/objects.js';
import type { QemuDeviceType } from './devices/types.js';
import type { PlanPaths } from './paths.js';

/** Options of the plan that are about the host and the launcher, not the sandbox. */
export interface PlanOptions {
  /** The sandbox run dir (absolute); every derived path lives under it. */
  readonly runDir: string;
  /**
   * fd of the controller's QMP socketpair as QEMU sees it (e.g. 3): adds
   * `-chardev socket,id=mon0,fd=N -mon chardev=mon0,mode=control`. Device fds follow it (N+1, ...).
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

/**
 * An fd the launcher must pass to QEMU: the controller's `hostFd` (from the config) becomes QEMU's
 * `fd` (spawn's `stdio[fd] = hostFd`). QEMU's numbers are 4, 5, ... in order, after QMP's fd 3.
 */
export interface PlannedFd {
  /** The number QEMU sees (what the argv says). */
  readonly fd: number;
  /** The controller's fd given in the config. */
  readonly hostFd: number;
  /** What the fd is: `tap` queue, `vhost-net`, `vhost-vsock`. */
  readonly purpose: FdPurpose;
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
  /** Chardev id (char devices, vhost-user), block node (block), or memory backend (nvdimm). */
  readonly backendId?: string;
  /** Mount tag (9p, virtio-fs). */
  readonly tag?: string;
}

/** {@link PlanPaths} with the sockets of omitted default devices absent. */
export type PlannedPaths = Omit<PlanPaths, 'qmpSocket' | 'consoleSocket' | 'agentSocket'> &
  Partial<Pick<PlanPaths, 'qmpSocket' | 'consoleSocket' | 'agentSocket'>>;

/** Everything needed to launch QEMU for a sandbox. */
export interface QemuPlan {
  /** argv[0] is the QEMU binary. */
  readonly argv: string[];
  /** Extra fds to pass (beyond `qmpFd`), in QEMU's numbering. */
  readonly fds: PlannedFd[];
  /** The run dir's paths; a socket whose device is left out (`disable*` knobs) is absent. */
  readonly paths: PlannedPaths;
  /** Bridge state after cold-plug, for hotplug to continue from (also `record.bridges`). */
  readonly bridges: BridgeState[];
  /** The devices on the command line and where they are. */
  readonly devices: PlannedDevice[];
  /** The initial device record: every cold-plugged user device, bridges, root ports. */
  readonly record: DeviceRecordData;
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
