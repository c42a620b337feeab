// Writes a cpio "newc" archive (the initramfs format) in memory.
//
// Why not the `cpio` binary: the archive needs a /dev/console character device and root-owned
// files; writing newc ourselves needs no mknod/chown staging tree, and fixed inode numbers and
// mtimes make the initrd byte-for-byte reproducible, so its hash is a meaningful manifest entry.

/** One entry of an initramfs. Paths are relative (`bin/busybox`), parents listed before children. */
export type NewcEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly kind: 'file'; readonly path: string; readonly data: Buffer; readonly mode?: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string }
  | {
      readonly kind: 'char';
      readonly path: string;
      readonly major: number;
      readonly minor: number;
      readonly mode?: number;
    };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(fields: {
  ino: number;
  mode: number;
  nlink: number;
  size: number;
  rdevMajor: number;
  rdevMinor: number;
  nameSize: number;
}): Buffer {
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  const parts = [
    '070701',
    hex(fields.ino),
    hex(fields.mode),
    hex(0), // uid
    hex(0), // gid
    hex(fields.nlink),
    hex(0), // mtime: fixed for reproducibility
    hex(fields.size),
    hex(0), // devmajor
    hex(0), // devminor
    hex(fields.rdevMajor),
    hex(fields.rdevMinor),
    hex(fields.nameSize),
    hex(0), // check
  ];
  return Buffer.from(parts.join(''), 'ascii');
}

function record(
  name: string,
  ino: number,
  mode: number,
  data: Buffer,
  rdev: { major: number; minor: number },
  nlink: number,
): Buffer[] {
  const nameBuf = Buffer.from(`${name}\0`, 'utf8');
  const h = header({
    ino,
    mode,
    nlink,
    size: data.length,
    rdevMajor: rdev.major,
    rdevMinor: rdev.minor,
    nameSize: nameBuf.length,
  });
  return [h, nameBuf, Buffer.alloc(pad4(h.length + nameBuf.length)), data, Buffer.alloc(pad4(data.length))];
}

/**
 * Serialises entries as an uncompressed newc archive terminated by `TRAILER!!!`.
 *
 * @example
 * const cpio = writeNewc([{ kind: 'dir', path: 'dev' }, { kind: 'char', path: 'dev/console', major: 5, minor: 1 }]);
 */
export function writeNewc(entries: readonly NewcEntry[]): Buffer {
  const chunks: Buffer[] = [];
  let ino = 1;
  const none = { major: 0, minor: 0 };
  for (const e of entries) {
    if (e.path.startsWith('/') || e.path.split('/').includes('..')) {
      throw new Error(`newc entry path must be relative without '..', got ${e.path}`);
    }
    switch (e.kind) {
      case 'dir':
        chunks.push(...record(e.path, ino++, S_IFDIR | (e.mode ?? 0o755), Buffer.alloc(0), none, 2));
        break;
      case 'file':
        chunks.push(...record(e.path, ino++, S_IFREG | (e.mode ?? 0o644), e.data, none, 1));
        break;
      case 'symlink':
        chunks.push(...record(e.path, ino++, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'), none, 1));
        break;
      case 'char':
        chunks.push(
          ...record(
            e.path,
            ino++,
            S_IFCHR | (e.mode ?? 0o600),
            Buffer.alloc(0),
            { major: e.major, minor: e.minor },
            1,
          ),
        );
        break;
    }
  }
  chunks.push(...record('TRAILER!!!', 0, 0, Buffer.alloc(0), none, 1));
  return Buffer.concat(chunks);
}
