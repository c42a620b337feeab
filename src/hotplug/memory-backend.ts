// The memory backend of hot-plugged memory (pc-dimm, virtio-mem): Kata's qemu.go `getMemArgs`.
import type { QmpMemoryBackendArgs } from '../qmp/commands.js';
import type { HotplugConfig, HotplugContext } from './context.js';
import { HotplugInputError } from './errors.js';

/** MiB in hot-plugged DIMMs. */
export function dimmTotalMiB(ctx: Pick<HotplugContext, 'record'>): number {
  return ctx.record.dimms.reduce((n, d) => n + d.sizeMiB, 0);
}

/** The memory backend for hot-plugged memory (Kata's qemu.go `getMemArgs`). */
export interface MemoryBackendChoice {
  readonly qomType: 'memory-backend-ram' | 'memory-backend-file';
  readonly memPath?: string;
  readonly share: boolean;
}

/**
 * Kata's qemu.go `getMemArgs`: hugepages → file on /dev/hugepages, shared; virtio-fs or a file-backed
 * memory root dir → memory-backend-file there, shared (setupFileBackedMem sets MemShared);
 * vhost-user store without hugepages → refused; else memory-backend-ram.
 */
export function memoryBackendFor(
  config: Pick<HotplugConfig, 'hugePages' | 'enableVhostUserStore' | 'sharedFS' | 'fileBackedMemRootDir'>,
): MemoryBackendChoice {
  if (config.hugePages) return { qomType: 'memory-backend-file', memPath: '/dev/hugepages', share: true };
  if (config.enableVhostUserStore) {
    throw new HotplugInputError(
      'Vhost-user-blk/scsi requires hugepage memory (expected `hugePages` to be on)',
    );
  }
  if (config.sharedFS === 'virtio-fs' || config.fileBackedMemRootDir !== '') {
    return {
      qomType: 'memory-backend-file',
      memPath: config.fileBackedMemRootDir || '/dev/shm',
      share: true,
    };
  }
  return { qomType: 'memory-backend-ram', share: false };
}

/** object-add arguments of a memory backend of `mib` MiB. */
export function memoryBackendArgs(
  choice: MemoryBackendChoice,
  id: string,
  mib: number,
): QmpMemoryBackendArgs {
  return {
    'qom-type': choice.qomType,
    id,
    size: mib * 1024 * 1024,
    ...(choice.memPath ? { 'mem-path': choice.memPath } : {}),
    ...(choice.share ? { share: true } : {}),
  };
}
