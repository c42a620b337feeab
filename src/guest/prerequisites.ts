// Host prerequisites of `vmactor setup`, each with the hint that installs it.
import { constants } from 'node:fs';
import { access, open } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** Where the initrd's busybox comes from (Debian's busybox-static installs a static binary here). */
export const BUSYBOX_PATH = '/bin/busybox';

/** One prerequisite that is not met. */
export interface MissingPrerequisite {
  readonly what: string;
  readonly hint: string;
}

/** Finds an executable on `$PATH` (no shell, no `which`). */
export async function findExecutable(
  bin: string,
  path = process.env.PATH ?? '',
): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, bin);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** True when `file` is an ELF executable without a PT_INTERP header, i.e. statically linked. */
export async function isStaticElf(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return false;
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    await fh.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } finally {
    await fh.close();
  }
}

/**
 * Checks what building the guest needs: apt-get, apt-cache, dpkg, dpkg-deb, and a static
 * busybox at /bin/busybox. (`cpio` is not needed: the initramfs is written in TypeScript, see newc.ts;
 * `xz`/`zstd` are only needed for compressed modules and are checked when one is met.)
 */
export async function missingPrerequisites(
  options: { readonly path?: string; readonly busybox?: string } = {},
): Promise<MissingPrerequisite[]> {
  const busybox = options.busybox ?? BUSYBOX_PATH;
  const missing: MissingPrerequisite[] = [];
  const tools: [string, string][] = [
    ['apt-get', 'Debian/Ubuntu apt is required to download kernel packages (package apt)'],
    ['apt-cache', 'part of apt (package apt)'],
    ['dpkg', 'required to unpack .deb files (package dpkg)'],
    ['dpkg-deb', 'required by dpkg -x (package dpkg)'],
  ];
  for (const [bin, hint] of tools) {
    if (!(await findExecutable(bin, options.path))) missing.push({ what: bin, hint });
  }
  try {
    await access(busybox, constants.X_OK);
    if (!(await isStaticElf(busybox))) {
      missing.push({
        what: `static busybox at ${busybox}`,
        hint: `${busybox} is dynamically linked; run \`apt-get install busybox-static\``,
      });
    }
  } catch {
    missing.push({ what: `busybox at ${busybox}`, hint: 'run `apt-get install busybox-static`' });
  }
  return missing;
}
