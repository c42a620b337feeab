// Picks the kernel image to boot: the bzImage, or the PVH ELF inside an xz bzImage (faster under TCG).
import { execa } from 'execa';
import { findExecutable } from './prerequisites.js';

/** How the stored kernel boots: Linux boot protocol (`bzImage`) or the PVH entry of an ELF `vmlinux`. */
export type KernelFormat = 'bzImage' | 'pvh-elf';

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** Reads `CONFIG_X=y` style switches out of a kernel config file's text. */
export function kernelConfigEnabled(config: string, option: string): boolean {
  return new RegExp(`^${option}=y$`, 'm').test(config);
}

/**
 * Returns the image QEMU's `-kernel` should get. Debian's generic kernel is xz-compressed, and
 * xz decompression of ~66 MB under TCG costs about 2 s of every boot; when the kernel has
 * `CONFIG_PVH=y` the decompressed ELF `vmlinux` boots directly through its PVH entry (QEMU 7.2
 * supports PVH with `-kernel`/`-initrd`/`-append`). Anything else (lz4 cloud kernels, no PVH,
 * no `xz` binary, an unexpected payload) keeps the bzImage.
 */
export async function bootableKernel(
  bzImage: Buffer,
  config: string,
): Promise<{ image: Buffer; format: KernelFormat; note: string }> {
  const keep = (note: string) => ({ image: bzImage, format: 'bzImage' as const, note });
  if (!kernelConfigEnabled(config, 'CONFIG_KERNEL_XZ')) return keep('kernel is not xz-compressed');
  if (!kernelConfigEnabled(config, 'CONFIG_PVH')) return keep('kernel has no PVH entry');
  const xz = await findExecutable('xz');
  if (!xz) return keep('xz not installed (apt-get install xz-utils); booting the bzImage');
  const at = bzImage.indexOf(XZ_MAGIC);
  if (at < 0) return keep('no xz payload found in the bzImage');
  const r = await execa(xz, ['-dc', '--single-stream'], {
    input: bzImage.subarray(at),
    encoding: 'buffer',
    reject: false,
    maxBuffer: 512 * 1024 * 1024,
  });
  const elf = Buffer.from(r.stdout);
  if (r.exitCode !== 0 || elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) {
    return keep('xz payload did not decompress to an ELF vmlinux');
  }
  return { image: elf, format: 'pvh-elf', note: 'decompressed vmlinux booted through its PVH entry' };
}
