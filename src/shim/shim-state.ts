// The shim's persisted facts (shim.json): what `delete` needs to clean up after a dead shim.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { ShimPaths } from './shim-paths.js';

const stateSchema = z.object({
  version: z.literal(1),
  namespace: z.string(),
  id: z.string(),
  bundle: z.string(),
  sandboxId: z.string(),
  /** The sandbox run dir (`<vmBase>/<sandboxId>`). */
  vmRunDir: z.string(),
  /** Host mounts the shim made for the rootfs (unmounted on delete). */
  rootfsMounts: z.array(z.string()),
  /** Guest pid of the init process once started, else 0. */
  initPid: z.number().int().nonnegative(),
});

/** Contents of shim.json. */
export type ShimState = z.infer<typeof stateSchema>;

/** Writes shim.json atomically (temp file, rename), mode 0600. */
export function writeShimState(file: string, state: ShimState): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Reads shim.json; undefined when absent or unreadable (nothing was created yet). */
export function readShimState(file: string): ShimState | undefined {
  try {
    return stateSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return undefined;
  }
}

/** Removes shim.json once nothing is left to clean (the VM stopped, the rootfs unmounted). */
export function clearShimState(file: string): void {
  rmSync(file, { force: true });
}

/** The state of container `id` of the shim at `paths`: its sandbox's run dir derived from them. */
export function shimStateFor(
  paths: ShimPaths,
  namespace: string,
  c: { id: string; bundle: string; rootfsMounts?: readonly string[]; initPid?: number },
): ShimState {
  return {
    version: 1,
    namespace,
    id: c.id,
    bundle: c.bundle,
    sandboxId: paths.sandboxId,
    vmRunDir: `${paths.vmBase}/${paths.sandboxId}`,
    rootfsMounts: [...(c.rootfsMounts ?? [])],
    initPid: c.initPid ?? 0,
  };
}
