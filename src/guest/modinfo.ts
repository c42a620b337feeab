// Reads the `.modinfo` section of a kernel module (ELF64 little-endian) without depmod/modinfo.

/** The fields of a module's `.modinfo` that the guest builder needs. */
export interface ModuleInfo {
  /** Module name as the kernel knows it (`-` normalised to `_`), from `name=` when present. */
  readonly name: string | undefined;
  /** Hard dependencies (`depends=`), normalised. */
  readonly depends: readonly string[];
  /** Soft pre-dependencies (`softdep=pre: ...`), normalised. */
  readonly softPre: readonly string[];
}

/** Normalises a module name the way the kernel does (`pvpanic-pci` → `pvpanic_pci`). */
export function normaliseModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

/** Splits the NUL-separated `key=value` strings of a `.modinfo` section. */
export function parseModinfoStrings(section: Buffer): ModuleInfo {
  let name: string | undefined;
  const depends: string[] = [];
  const softPre: string[] = [];
  for (const entry of section.toString('latin1').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    if (key === 'name') name = normaliseModuleName(value);
    else if (key === 'depends') {
      for (const d of value.split(',')) if (d) depends.push(normaliseModuleName(d));
    } else if (key === 'softdep') {
      // e.g. "pre: crc32c post: foo"
      const m = /pre:\s*([^:]*?)(?:\s+post:|$)/.exec(value);
      for (const d of m?.[1]?.trim().split(/\s+/) ?? []) if (d) softPre.push(normaliseModuleName(d));
    }
  }
  return { name, depends, softPre };
}

/**
 * Extracts and parses the `.modinfo` section of an ELF64 little-endian kernel module.
 * Returns `undefined` when the buffer is not such an ELF file or has no `.modinfo`.
 */
export function readModinfo(elf: Buffer): ModuleInfo | undefined {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  if (elf[4] !== 2 || elf[5] !== 1) return undefined; // ELFCLASS64, little-endian
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  if (shoff + shnum * shentsize > elf.length || shstrndx >= shnum) return undefined;
  const section = (i: number) => {
    const base = shoff + i * shentsize;
    return {
      nameOff: elf.readUInt32LE(base),
      offset: Number(elf.readBigUInt64LE(base + 0x18)),
      size: Number(elf.readBigUInt64LE(base + 0x20)),
    };
  };
  const strtab = section(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const nameStart = strtab.offset + s.nameOff;
    const nameEnd = elf.indexOf(0, nameStart);
    if (nameEnd < 0) continue;
    if (elf.toString('latin1', nameStart, nameEnd) !== '.modinfo') continue;
    if (s.offset + s.size > elf.length) return undefined;
    return parseModinfoStrings(elf.subarray(s.offset, s.offset + s.size));
  }
  return undefined;
}
