// Plan step "memory backend": the guest RAM backend (govmm appendMemoryKnobs + Kata's
// setupTemplate / setupFileBackedMem), and the combinations QEMU or Kata refuse.
import { PlanError } from './errors.js';
import type { MemoryBackend } from './objects.js';
import type { PlanSpec } from './plan-spec.js';
import { MEMORY_BACKEND_ID } from './plan-types.js';

/** Refuses memory settings that cannot work together, before anything else is planned. */
export function checkMemorySettings(spec: PlanSpec): void {
  const virtioFs = spec.virtioFs !== undefined;
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
}

/**
 * The explicit guest RAM backend, when one is needed: hugepages → memfd `hugetlb=on` (govmm uses
 * mem-path=/dev/hugepages; where that is not a hugetlbfs mount QEMU silently creates a plain file
 * there); templates → the `memoryPath` file (share=on to become one); `file_mem_backend` → a file
 * there; virtio-fs / shared memory → memfd share=on; mem-prealloc → ram. Otherwise none.
 *
 * @example
 * guestMemoryBackend({ ...spec, sharedMemory: true }) // => { kind: 'memfd', id: 'dimm1', share: true, ... }
 */
export function guestMemoryBackend(spec: PlanSpec): MemoryBackend | undefined {
  const base = { id: MEMORY_BACKEND_ID, sizeMiB: spec.memoryMiB };
  const fileBacked =
    spec.sharedMemory || spec.virtioFs !== undefined || spec.fileBackedMemRootDir !== undefined;
  if (spec.hugePages) return { ...base, kind: 'memfd', hugetlb: true, share: true, prealloc: true };
  if (spec.template !== 'none') {
    return {
      ...base,
      kind: 'file',
      memPath: spec.memoryPath,
      share: spec.template === 'to-be',
      prealloc: spec.memPrealloc,
    };
  }
  if (spec.fileBackedMemRootDir !== undefined) {
    return {
      ...base,
      kind: 'file',
      memPath: spec.fileBackedMemRootDir,
      share: true,
      prealloc: spec.memPrealloc,
    };
  }
  if (fileBacked) return { ...base, kind: 'memfd', share: true, prealloc: spec.memPrealloc };
  if (spec.memPrealloc) return { ...base, kind: 'ram', prealloc: true };
  return undefined;
}
