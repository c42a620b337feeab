// Defaults and limits of the hypervisor config (the seeds' constants, and Kata's where the seeds are silent).
import type { Arch, BlockDeviceDriver, SharedFS } from './types.js';

/** Seeds `defaultVCPUs`. */
export const DEFAULT_VCPUS = 1;
/** Seeds `defaultMemSzMiB`. */
export const DEFAULT_MEMORY_MIB = 2048;
/** Seeds `MinHypervisorMemory` (hypervisor.go, kata-containers 2.x). */
export const MIN_HYPERVISOR_MEMORY_MIB = 256;
/** Seeds `defaultBridges`. */
export const DEFAULT_BRIDGES = 1;
/** Kata's `maxPCIBridges` (katautils): "Until 5 PCI bridges can be cold plugged per VM". */
export const MAX_BRIDGES = 5;
/** Seeds `defaultBlockDriver` (`config.VirtioSCSI`). */
export const DEFAULT_BLOCK_DRIVER: BlockDeviceDriver = 'virtio-scsi';
/** Seeds `defaultMsize9p` (qemu_arch_base.go). */
export const DEFAULT_MSIZE_9P = 8192;
/** Kata's `defaultMemSlots` (katautils, `@DEFMEMSLOTS@`). */
export const DEFAULT_MEM_SLOTS = 10;
/** Seeds' HypervisorConfig comment: "virtio-9p (default)". */
export const DEFAULT_SHARED_FS: SharedFS = 'virtio-9p';
/** Kata 2.x `@DEFVIRTIOFSCACHE@` (`auto`). */
export const DEFAULT_VIRTIOFS_CACHE = 'auto';
/** Kata's DAX window default (`@DEFVIRTIOFSCACHESIZE@` = 0: no DAX). */
export const DEFAULT_VIRTIOFS_CACHE_SIZE = 0;
/** Debian's virtiofsd (package qemu-system-common), the one this project tests against. */
export const DEFAULT_VIRTIOFS_DAEMON = '/usr/lib/qemu/virtiofsd';
/** Kata's `defaultEntropySource`. */
export const DEFAULT_ENTROPY_SOURCE = '/dev/urandom';
/** Kata's `@DEFVIRTIOFSCACHE@` accepted values (C virtiofsd: none|auto|always; Rust: never|metadata|auto|always). */
export const VIRTIOFS_CACHE_MODES: readonly string[] = ['none', 'auto', 'always', 'never', 'metadata'];

/** Per-arch facts: QEMU binary (Debian names), machine types (first = default), MaxQemuVCPUs. */
export interface ArchDefaults {
  readonly hypervisorPath: string;
  readonly machineTypes: readonly string[];
  /** The arch's `MaxQemuVCPUs()` cap (amd64 240, arm64 123 for GICv3, ppc64le 128, s390x 248). */
  readonly maxVCPUs: number;
}

/** Defaults by architecture (Kata's qemu_<arch>.go; amd64 defaults to q35 as in kata-containers 2.x). */
export const ARCH_DEFAULTS: Readonly<Record<Arch, ArchDefaults>> = {
  amd64: { hypervisorPath: 'qemu-system-x86_64', machineTypes: ['q35', 'pc', 'microvm'], maxVCPUs: 240 },
  arm64: { hypervisorPath: 'qemu-system-aarch64', machineTypes: ['virt'], maxVCPUs: 123 },
  ppc64le: { hypervisorPath: 'qemu-system-ppc64', machineTypes: ['pseries'], maxVCPUs: 128 },
  s390x: { hypervisorPath: 'qemu-system-s390x', machineTypes: ['s390-ccw-virtio'], maxVCPUs: 248 },
};

/** The architecture of the running Node process, as a Go GOARCH name (amd64 when unknown). */
export function hostArch(nodeArch: string = process.arch): Arch {
  switch (nodeArch) {
    case 'arm64':
      return 'arm64';
    case 'ppc64':
      return 'ppc64le';
    case 's390x':
      return 's390x';
    default:
      return 'amd64';
  }
}
