// `-object` builders owned by the plan: guest RAM backends (ram/file/memfd).
import { formatOptions } from './escape.js';

/** Guest RAM backend (govmm appendMemoryKnobs' `dimm1`). */
export interface MemoryBackend {
  readonly kind: 'ram' | 'file' | 'memfd';
  readonly id: string;
  readonly sizeMiB: number;
  /** file: a directory (QEMU creates an unlinked temp file in it) or a file (templates). */
  readonly memPath?: string;
  /** `share=on`: MAP_SHARED, needed by vhost-user (virtio-fs) and templates. */
  readonly share?: boolean;
  /** `prealloc=on`: touch every page at start (mem-prealloc, hugepages). */
  readonly prealloc?: boolean;
  /** memfd: back with huge pages from the kernel's pool (`hugetlb=on`). */
  readonly hugetlb?: boolean;
}

/**
 * The `-object` value of a RAM backend; paths escaped (commas doubled).
 *
 * @example
 * memoryBackendArg({ kind: 'memfd', id: 'dimm1', sizeMiB: 256, share: true })
 * // => 'memory-backend-memfd,id=dimm1,size=256M,share=on'
 */
export function memoryBackendArg(b: MemoryBackend): string {
  return formatOptions([
    `memory-backend-${b.kind}`,
    ['id', b.id],
    ['size', `${b.sizeMiB}M`],
    b.kind === 'file' && b.memPath !== undefined && ['mem-path', b.memPath],
    b.kind === 'memfd' && b.hugetlb === true && ['hugetlb', true],
    b.share === true && ['share', true],
    b.prealloc === true && ['prealloc', true],
  ]);
}
