// Picks the kernel image to boot: the bzImage, or the PVH ELF vmlinux inside it (faster under TCG).
import { execa } from 'execa';
import { findExecutable } from './prerequisites.js';

/** How the stored kernel boots: Linux boot protocol (`bzImage`) or the PVH entry of an ELF `vmlinux`. */
export type KernelFormat = 'bzImage' | 'pvh-elf';

/** Payload compressions we can undo on the host, with the tool, its package and the stream magic. */
const DECOMPRESSORS = [
  {
    option: 'CONFIG_KERNEL_XZ',
    tool: 'xz',
    pkg: 'xz-utils',
    args: ['-dc', '--single-stream'],
    magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
  },
  {
    option: 'CONFIG_KERNEL_LZ4',
    tool: 'lz4',
    pkg: 'lz4',
    args: ['-dc'],
    // The kernel uses lz4's legacy frame; lz4 exits non-zero at the trailing bzImage data, so
    // completeness is judged from the ELF itself (isCompleteElf), not from the exit code.
    magic: Buffer.from([0x02, 0x21, 0x4c, 0x18]),
  },
] as const;

/** Reads `CONFIG_X=y` style switches out of a kernel config file's text. */
export function kernelConfigEnabled(config: string, option: string): boolean {
  return new RegExp(`^${option}=y$`, 'm').test(config);
}

/** True when `buf` is an ELF64 LE file whose program and section header tables lie inside it. */
export function isCompleteElf(buf: Buffer): boolean {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return false;
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const phEnd = phoff + buf.readUInt16LE(0x36) * buf.readUInt16LE(0x38);
  const shEnd = shoff + buf.readUInt16LE(0x3a) * buf.readUInt16LE(0x3c);
  return phoff > 0 && phEnd <= buf.length && shEnd <= buf.length;
}

/**
 * Returns the image QEMU's `-kernel` should get. Under TCG the kernel's self-decompression is
 * slow (xz: ~2 s per boot for Debian's generic kernel; lz4: a few hundred ms for the cloud one).
 * When the kernel has `CONFIG_PVH=y`, the decompressed ELF `vmlinux` boots directly through its
 * PVH entry (QEMU 7.2 supports PVH with `-kernel`/`-initrd`/`-append` on pc, q35 and microvm).
 * Anything unexpected (no PVH, no decompressor installed, an incomplete payload) keeps the bzImage.
 */
export async function bootableKernel(
  bzImage: Buffer,
  config: string,
): Promise<{ image: Buffer; format: KernelFormat; note: string }> {
  const keep = (note: string) => ({ image: bzImage, format: 'bzImage' as const, note });
  const d = DECOMPRESSORS.find((x) => kernelConfigEnabled(config, x.option));
  if (!d) return keep('kernel compression is not xz or lz4');
  if (!kernelConfigEnabled(config, 'CONFIG_PVH')) return keep('kernel has no PVH entry');
  const tool = await findExecutable(d.tool);
  if (!tool) return keep(`${d.tool} not installed (apt-get install ${d.pkg}); booting the bzImage`);
  const at = bzImage.indexOf(d.magic);
  if (at < 0) return keep(`no ${d.tool} payload found in the bzImage`);
  const r = await execa(tool, [...d.args], {
    input: bzImage.subarray(at),
    encoding: 'buffer',
    reject: false,
    maxBuffer: 512 * 1024 * 1024,
  });
  const elf = Buffer.from(r.stdout);
  if (!isCompleteElf(elf)) return keep(`${d.tool} payload did not decompress to a complete ELF vmlinux`);
  return {
    image: elf,
    format: 'pvh-elf',
    note: `${d.tool}-decompressed vmlinux booted through its PVH entry`,
  };
}
