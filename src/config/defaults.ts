// Defaults and limits of the hypervisor config (Kata's hypervisor.go / qemu_arch_base.go constants, and
// Kata's loader where those are silent).
import type { Arch } from '../devices/rules.js';
import { type BlockDriver, VIRTIOFSD_CACHE_MODES } from '../devices/spec.js';

/** Shared file system kinds (Kata's SharedFS), in a stable order. `none` disables sharing. */
export const SHARED_FS_KINDS = ['virtio-9p', 'virtio-fs', 'none'] as const;

/** Shared file system between host and guest (Kata's SharedFS). */
export type SharedFS = (typeof SHARED_FS_KINDS)[number];

/** Kata's hypervisor.go `defaultVCPUs`. */
export const DEFAULT_VCPUS = 1;
/** Kata's hypervisor.go `defaultMemSzMiB`. */
export const DEFAULT_MEMORY_MIB = 2048;
/** Kata's hypervisor.go `MinHypervisorMemory` (kata-containers 2.x). */
export const MIN_HYPERVISOR_MEMORY_MIB = 256;
/** Kata's hypervisor.go `defaultBridges`. */
export const DEFAULT_BRIDGES = 1;
/** Kata's `maxPCIBridges` (katautils): "Until 5 PCI bridges can be cold plugged per VM". */
export const MAX_BRIDGES = 5;
/** Kata's hypervisor.go `defaultBlockDriver` (`config.VirtioSCSI`). */
export const DEFAULT_BLOCK_DRIVER: BlockDriver = 'virtio-scsi';
/** Kata's qemu_arch_base.go `defaultMsize9p`. */
export const DEFAULT_MSIZE_9P = 8192;
/** Kata's `defaultMemSlots` (katautils, `@DEFMEMSLOTS@`). */
export const DEFAULT_MEM_SLOTS = 10;
/** Kata's hypervisor.go HypervisorConfig comment: "virtio-9p (default)". */
export const DEFAULT_SHARED_FS: SharedFS = 'virtio-9p';
/** Kata 2.x `@DEFVIRTIOFSCACHE@` (`auto`). */
export const DEFAULT_VIRTIOFS_CACHE = 'auto';
/** Kata's DAX window default (`@DEFVIRTIOFSCACHESIZE@` = 0: no DAX). */
export const DEFAULT_VIRTIOFS_CACHE_SIZE = 0;
/** Debian's virtiofsd (package qemu-system-common), the one this project tests against. */
export const DEFAULT_VIRTIOFS_DAEMON = '/usr/lib/qemu/virtiofsd';
/** Kata's `defaultEntropySource`. */
export const DEFAULT_ENTROPY_SOURCE = '/dev/urandom';
/** Kata's `@DEFVIRTIOFSCACHE@` accepted values: the C virtiofsd's (none|auto|always) plus the Rust one's never|metadata. */
export const VIRTIOFS_CACHE_MODES = [...VIRTIOFSD_CACHE_MODES, 'never', 'metadata'] as const;

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
