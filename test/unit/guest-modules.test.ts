import { describe, expect, it } from 'vitest';
import { normaliseModuleName, parseModinfoStrings, readModinfo } from '../../src/guest/modinfo.js';
import {
  type ModuleEntry,
  moduleNameFromPath,
  resolveModules,
  wantedModules,
} from '../../src/guest/modules.js';

function entry(name: string, depends: string[] = [], softPre: string[] = []): ModuleEntry {
  return { name, path: `kernel/x/${name}.ko`, depends, softPre };
}

function index(...entries: ModuleEntry[]): Map<string, ModuleEntry> {
  return new Map(entries.map((e) => [e.name, e]));
}

/** A minimal ELF64 LE relocatable with a section-name table and a `.modinfo` section. */
function fakeModule(modinfo: string): Buffer {
  const shstr = Buffer.from('\0.shstrtab\0.modinfo\0', 'latin1');
  const info = Buffer.from(modinfo, 'latin1');
  const shoff = 64 + shstr.length + info.length;
  const padded = shoff + ((8 - (shoff % 8)) % 8);
  const elf = Buffer.alloc(padded + 3 * 64);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2; // ELFCLASS64
  elf[5] = 1; // little-endian
  elf[6] = 1;
  elf.writeUInt16LE(1, 0x10); // ET_REL
  elf.writeUInt16LE(62, 0x12); // EM_X86_64
  elf.writeBigUInt64LE(BigInt(padded), 0x28);
  elf.writeUInt16LE(64, 0x34);
  elf.writeUInt16LE(64, 0x3a);
  elf.writeUInt16LE(3, 0x3c);
  elf.writeUInt16LE(1, 0x3e);
  shstr.copy(elf, 64);
  info.copy(elf, 64 + shstr.length);
  const sh = (i: number, name: number, offset: number, size: number) => {
    const base = padded + i * 64;
    elf.writeUInt32LE(name, base);
    elf.writeUInt32LE(3, base + 4);
    elf.writeBigUInt64LE(BigInt(offset), base + 0x18);
    elf.writeBigUInt64LE(BigInt(size), base + 0x20);
  };
  sh(1, 1, 64, shstr.length);
  sh(2, 11, 64 + shstr.length, info.length);
  return elf;
}

describe('module metadata', () => {
  it('normalises dashes in module names to underscores like the kernel does', () => {
    expect(normaliseModuleName('pvpanic-pci')).toBe('pvpanic_pci');
    expect(moduleNameFromPath('kernel/drivers/misc/pvpanic/pvpanic-pci.ko')).toBe('pvpanic_pci');
    expect(moduleNameFromPath('kernel/fs/fuse/virtiofs.ko.xz')).toBe('virtiofs');
    expect(moduleNameFromPath('kernel/drivers/dax/dax.ko')).toBe('dax');
  });

  it('parses name, depends and soft pre-dependencies from modinfo strings', () => {
    const info = parseModinfoStrings(
      Buffer.from(
        'license=GPL\0softdep=pre: crc32c-intel post: foo\0depends=virtio,virtio_ring,net-failover\0name=virtio_net\0',
        'latin1',
      ),
    );
    expect(info).toEqual({
      name: 'virtio_net',
      depends: ['virtio', 'virtio_ring', 'net_failover'],
      softPre: ['crc32c_intel'],
    });
  });

  it('treats an empty depends field as no dependencies', () => {
    expect(parseModinfoStrings(Buffer.from('depends=\0name=virtio_ring\0')).depends).toEqual([]);
  });

  it('reads the modinfo section out of an ELF64 module', () => {
    const info = readModinfo(fakeModule('depends=fuse,virtio,virtio_ring\0name=virtiofs\0'));
    expect(info?.name).toBe('virtiofs');
    expect(info?.depends).toEqual(['fuse', 'virtio', 'virtio_ring']);
  });

  it('returns undefined for something that is not an ELF module', () => {
    expect(
      readModinfo(Buffer.from('not an elf file at all, but long enough to have a header....'.repeat(2))),
    ).toBe(undefined);
  });
});

describe('module resolution', () => {
  const idx = index(
    entry('virtio_ring'),
    entry('virtio'),
    entry('virtio_pci_modern_dev'),
    entry('virtio_pci', ['virtio_pci_modern_dev', 'virtio', 'virtio_ring']),
    entry('fuse'),
    entry('virtiofs', ['fuse', 'virtio', 'virtio_ring']),
  );

  it('loads every dependency before the module that needs it', () => {
    const { load } = resolveModules(['virtiofs', 'virtio_pci'], idx, new Set());
    const names = load.map((m) => m.name);
    expect(names).toEqual([
      'fuse',
      'virtio',
      'virtio_ring',
      'virtiofs',
      'virtio_pci_modern_dev',
      'virtio_pci',
    ]);
    for (const m of load) {
      for (const d of m.depends) expect(names.indexOf(d)).toBeLessThan(names.indexOf(m.name));
    }
  });

  it('loads a module once even when many modules depend on it', () => {
    const { load } = resolveModules(['virtio_pci', 'virtiofs', 'virtio'], idx, new Set());
    expect(load.filter((m) => m.name === 'virtio')).toHaveLength(1);
  });

  it('notes built-in modules instead of loading them', () => {
    const r = resolveModules(['dax', 'virtio'], idx, new Set(['dax']));
    expect(r.builtin).toEqual(['dax']);
    expect(r.load.map((m) => m.name)).toEqual(['virtio']);
  });

  it('notes wanted modules the kernel lacks entirely as absent', () => {
    const r = resolveModules(['9p', 'fuse'], idx, new Set());
    expect(r.absent).toEqual(['9p']);
    expect(r.load.map((m) => m.name)).toEqual(['fuse']);
  });

  it('accepts a built-in dependency of a loadable module', () => {
    const r = resolveModules(['nd_pmem'], index(entry('nd_pmem', ['dax'])), new Set(['dax']));
    expect(r.load.map((m) => m.name)).toEqual(['nd_pmem']);
    expect(r.builtin).toEqual(['dax']);
  });

  it('fails when a present module depends on a module the package does not contain', () => {
    expect(() => resolveModules(['a'], index(entry('a', ['missing'])), new Set())).toThrow(
      /a -> missing|missing/,
    );
  });

  it('loads soft pre-dependencies first when present and ignores them when absent', () => {
    const r = resolveModules(['a'], index(entry('a', [], ['pre', 'gone']), entry('pre')), new Set());
    expect(r.load.map((m) => m.name)).toEqual(['pre', 'a']);
    expect(r.absent).toEqual([]);
  });

  it('reports a dependency cycle instead of recursing forever', () => {
    expect(() => resolveModules(['a'], index(entry('a', ['b']), entry('b', ['a'])), new Set())).toThrow(
      /cycle/,
    );
  });

  it('asks for 9p and its network filesystem layer only in the generic flavour', () => {
    expect(wantedModules('cloud')).not.toContain('9p');
    expect(wantedModules('generic')).toEqual(
      expect.arrayContaining(['9p', '9pnet', '9pnet_virtio', 'netfs']),
    );
    expect(wantedModules('cloud')).toEqual(
      expect.arrayContaining(['virtio_console', 'virtiofs', 'nd_pmem', 'pvpanic_pci']),
    );
  });
});
