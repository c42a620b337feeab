// Mounts containerd's rootfs mounts (snapshots) on the host at <bundle>/rootfs, as runc's shim does.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ShimVmError } from './errors.js';
import type { Mount } from './proto-types.js';

const run = promisify(execFile);

/**
 * Mounts `mounts` (in order) on `<bundle>/rootfs` with mount(8) (argv only, no shell) and returns
 * the mount points to undo; `[]` when containerd gave none (`ctr run --rootfs DIR`).
 */
export async function mountRootfs(bundle: string, mounts: readonly Mount[]): Promise<string[]> {
  const target = join(bundle, 'rootfs');
  const done: string[] = [];
  for (const m of mounts) {
    const args = [
      '-t',
      m.type,
      ...(m.options.length > 0 ? ['-o', m.options.join(',')] : []),
      '--',
      m.source,
      target,
    ];
    try {
      await run('mount', args);
    } catch (cause) {
      await unmountAll(done).catch(() => undefined);
      throw new ShimVmError(`Mounting the rootfs (${m.type} ${m.source}) on ${target} failed`, { cause });
    }
    done.push(target);
  }
  return done;
}

/** Unmounts what {@link mountRootfs} mounted, last first. */
export async function unmountAll(points: readonly string[]): Promise<void> {
  for (const p of [...points].reverse()) await run('umount', ['--', p]);
}
