import { homedir } from 'node:os';
import { join } from 'node:path';

/** Kernel flavours of the default guest: `cloud` (fast, no 9p) and `generic` (9p as modules). */
export type GuestFlavour = 'cloud' | 'generic';

/** Files of one built default guest. */
export interface GuestArtifacts {
  readonly kernel: string;
  readonly initrd: string;
}

/** Directory holding the default guest: `$VMACTOR_CACHE_DIR`, else `$XDG_CACHE_HOME/vmactor`, else `~/.cache/vmactor`. */
export function guestCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VMACTOR_CACHE_DIR) return env.VMACTOR_CACHE_DIR;
  const base = env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'vmactor');
}

/** Where `vmactor setup` puts the kernel and initrd of a flavour. */
export function guestArtifacts(
  flavour: GuestFlavour = 'cloud',
  dir: string = guestCacheDir(),
): GuestArtifacts {
  return {
    kernel: join(dir, 'guest', flavour, 'vmlinuz'),
    initrd: join(dir, 'guest', flavour, 'initrd.img'),
  };
}
