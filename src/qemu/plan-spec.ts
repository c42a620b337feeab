// The normalized input of the QEMU plan: every knob planQemu reads, with defaults already applied.
import type { DeviceSpec } from '../devices/spec.js';
import type { Arch } from './arch/types.js';
import type { LowerHypervisor } from './lower-device.js';

/** Kata's `block_device_driver`: how disks (and the image) are attached. */
export type BlockDeviceDriver = 'virtio-scsi' | 'virtio-blk' | 'virtio-blk-ccw' | 'nvdimm' | 'virtio-mmio';

/** VM templating role: boot to become a template, boot from one, or neither. */
export type TemplateRole = 'none' | 'to-be' | 'from';

/** Everything the plan needs from a validated config (src/config maps its HypervisorConfig onto this). */
export interface PlanSpec {
  /** Sandbox id (validated: `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`). */
  readonly id: string;
  /** `-uuid`; absent → none on the command line. */
  readonly uuid?: string;
  readonly arch: Arch;
  /** QEMU binary; default: the arch table's Debian binary name. */
  readonly qemuPath?: string;
  /** `machine_type`; default: the arch's default machine. */
  readonly machineType?: string;
  /** `machine_accelerators`, appended to `-machine`. */
  readonly machineAccelerators?: string;
  /** `cpu_features`, appended to the CPU model (e.g. `pmu=off`). */
  readonly cpuFeatures?: string;
  readonly vcpus: number;
  readonly maxVcpus: number;
  readonly memoryMiB: number;
  readonly memSlots: number;
  /** `memory_offset`: extra maxmem for nvdimm devices. */
  readonly memOffsetMiB: number;
  readonly defaultBridges: number;
  readonly blockDeviceDriver: BlockDeviceDriver;
  readonly enableIOThreads: boolean;
  readonly kernel: string;
  readonly initrd?: string;
  readonly image?: string;
  /** Size of `image` in bytes (an nvdimm backend needs it); read by the caller. */
  readonly imageSizeBytes?: number;
  readonly disableImageNvdimm: boolean;
  /** The full `-append` string (src/config builds it). */
  readonly kernelParams: string;
  /** `-bios`. */
  readonly firmware?: string;
  /** UEFI flash images (`-drive if=pflash,format=raw,...`), code first. */
  readonly pflash?: readonly string[];
  /** Guest RAM must be shared with a vhost-user backend (virtio-fs in use). */
  readonly sharedMemory: boolean;
  /** The virtio-fs share served by virtiofsd (at most one per sandbox, on `vhost-fs.sock`). */
  readonly virtioFs?: {
    readonly deviceId: string;
    readonly tag: string;
    readonly source: string;
    readonly daemon?: string;
    readonly cache: string;
    readonly cacheSize?: number;
    readonly queueSize?: number;
    readonly threadPoolSize?: number;
    readonly extraArgs?: readonly string[];
  };
  readonly hugePages: boolean;
  readonly memPrealloc: boolean;
  readonly fileBackedMemRootDir?: string;
  readonly realtime: boolean;
  readonly mlock: boolean;
  readonly template: TemplateRole;
  /** Template memory file (templates only). */
  readonly memoryPath?: string;
  readonly enableVhostUserStore: boolean;
  /** `entropy_source`, e.g. `/dev/urandom`. */
  readonly entropySource: string;
  readonly useVsock: boolean;
  /** Default devices left out (the `disable*` knobs): console, rng, agent channel, reattach monitor. */
  readonly omit?: {
    readonly console?: true;
    readonly rng?: true;
    readonly agentChannel?: true;
    readonly reattachMonitor?: true;
  };
  /** Guest CID of the agent's vsock when `useVsock` and no vsock device is given (default 3). */
  readonly vsockContextId?: number;
  /** Add the Intel vIOMMU (q35). */
  readonly iommu?: boolean;
  /** `iommu_platform=on` on virtio devices. */
  readonly iommuPlatform?: boolean;
  /** Extra QEMU options, appended last as `-<key> [value]` (Kata's hypervisor_params). */
  readonly hypervisorParams?: readonly { readonly key: string; readonly value: string }[];
  /** Number of PCIe root ports (q35 / virt). */
  readonly pcieRootPorts: number;
  /** QEMU's `-sandbox` policy string, e.g. `on,obsolete=deny,spawn=deny`. */
  readonly seccompSandbox?: string;
  readonly debug: boolean;
  /** Running nested inside a VM: legacy virtio (`disable-modern=on`), as Kata's nestedRun. */
  readonly nested?: boolean;
  /** The user's devices given while `created` (validated specs): cold-plugged after the platform's. */
  readonly devices: readonly DeviceSpec[];
  /** The hypervisor knobs that give user devices their defaults (lower-device.ts). */
  readonly deviceDefaults: LowerHypervisor;
  /** Sizes in bytes of files user nvdimm disks use (read by the caller: the plan reads no files). */
  readonly fileSizes?: Readonly<Record<string, number>>;
}
