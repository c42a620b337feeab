import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type GuestArtifacts, type GuestFlavour, guestArtifacts } from '../../src/guest/paths.js';

/** True in CI: every prerequisite (QEMU, virtiofsd, the default guest) must be present. */
export const inCI = process.env.CI === 'true' || process.env.CI === '1';

function which(bin: string): string | undefined {
  try {
    return execFileSync('which', [bin], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Path of a host binary a test needs. Missing in CI → throws (a failure, never a skip).
 * Outside CI a test file may skip with `describe.skipIf(!QEMU)`; in CI that condition is never true.
 */
export function hostBinary(bin: string): string | undefined {
  const p = bin.startsWith('/') ? (existsSync(bin) ? bin : undefined) : which(bin);
  if (!p && inCI) throw new Error(`CI=true but required binary ${bin} is missing`);
  return p;
}

/** The x86_64 QEMU binary (required in CI). */
export const QEMU = hostBinary('qemu-system-x86_64');

/** virtiofsd shipped by qemu-system-common on Debian bookworm. */
export const VIRTIOFSD = hostBinary('/usr/lib/qemu/virtiofsd');

/** The default guest built by `vmactor setup`; required in CI. */
export function guest(flavour: GuestFlavour = 'cloud'): GuestArtifacts | undefined {
  const g = guestArtifacts(flavour);
  const ok = existsSync(g.kernel) && existsSync(g.initrd);
  if (!ok && inCI) throw new Error(`CI=true but the ${flavour} guest is missing (run vmactor setup)`);
  return ok ? g : undefined;
}

/** True when running as root (netns, tap devices). Not root in CI → throws (a failure, never a skip). */
export function isRoot(): boolean {
  const root = process.getuid?.() === 0;
  if (!root && inCI) throw new Error('CI=true but the tests are not running as root (needed for netns/tap)');
  return root;
}
