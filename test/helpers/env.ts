import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type GuestArtifacts, type GuestFlavour, guestArtifacts } from '../../src/guest/paths.js';

// Tests drive real components: a missing prerequisite is a failure with a clear message, never a
// skip (in CI or anywhere else). `bash scripts/demo.sh` (the README's first command) installs them.

/** True in CI (`CI=true`). */
export const inCI = process.env.CI === 'true' || process.env.CI === '1';

const HOW = 'run `bash scripts/demo.sh` first (installs QEMU & co and builds the default guest)';

function which(bin: string): string | undefined {
  try {
    return execFileSync('which', [bin], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Path of a host binary a test needs; throws when it is missing. */
export function hostBinary(bin: string): string {
  const p = bin.startsWith('/') ? (existsSync(bin) ? bin : undefined) : which(bin);
  if (!p) throw new Error(`required binary ${bin} is missing: ${HOW}`);
  return p;
}

/** The x86_64 QEMU binary. */
export const QEMU = hostBinary('qemu-system-x86_64');

/** virtiofsd shipped by qemu-system-common on Debian bookworm. */
export const VIRTIOFSD = hostBinary('/usr/lib/qemu/virtiofsd');

/** The default guest built by `vmactor setup`; throws when it has not been built. */
export function guest(flavour: GuestFlavour = 'cloud'): GuestArtifacts {
  const g = guestArtifacts(flavour);
  if (!(existsSync(g.kernel) && existsSync(g.initrd))) {
    throw new Error(`the ${flavour} default guest is missing: ${HOW}`);
  }
  return g;
}

/** Asserts the tests run as root (network namespaces, tap devices); throws otherwise. */
export function isRoot(): boolean {
  if (process.getuid?.() !== 0) throw new Error('the tests need root (ip netns, tap devices)');
  return true;
}
