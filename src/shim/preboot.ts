// `start`'s head start: boot the container's VM while the serving shim is still loading, then hand it over.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { shimAccelerator } from './accelerator.js';
import { ContainerVm } from './container-vm.js';
import { readBundleConfig } from './oci-spec.js';
import type { ShimPaths } from './shim-paths.js';
import { shimStateFor, writeShimState } from './shim-state.js';
import { trace } from './trace.js';

const handoffSchema = z.strictObject({
  bundle: z.string().startsWith('/'),
  rootfs: z.string().startsWith('/'),
  runDir: z.string().startsWith('/'),
  sandboxId: z.string().min(1),
  vmStartMs: z.number().nonnegative(),
  runningAt: z.number().nonnegative(),
});

/** What `start` passes to the serving shim: one JSON line on its stdin (`null`: no VM). */
export type VmHandoff = z.infer<typeof handoffSchema>;

/** Parses the hand-off line; undefined for `null` or anything that is not a hand-off. */
export function parseHandoff(line: string): VmHandoff | undefined {
  try {
    const r = handoffSchema.safeParse(JSON.parse(line));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** Inputs of {@link prebootVm}. */
export interface PrebootOptions {
  readonly namespace: string;
  readonly id: string;
  /** The bundle dir (`start`'s cwd). */
  readonly bundle: string;
  readonly paths: ShimPaths;
  readonly logger: Logger;
}

/**
 * Launches the VM of the bundle's container and detaches it for the serving shim to attach, when
 * its config.json names a rootfs other than `<bundle>/rootfs` (where containerd's snapshot mounts
 * arrive only with Create): `ctr run --rootfs DIR`. Undefined when it does not apply; a bad config
 * or a failed launch is left for Create to meet again and report, so this never throws.
 *
 * @example
 * ```ts
 * const handoff = await prebootVm({ namespace, id, bundle: process.cwd(), paths, logger });
 * child.stdin.end(`${JSON.stringify(handoff ?? null)}\n`);
 * ```
 */
export async function prebootVm(o: PrebootOptions): Promise<VmHandoff | undefined> {
  try {
    const config = await readBundleConfig(o.bundle);
    if (config.rootPath === join(o.bundle, 'rootfs')) return undefined;
    writeShimState(o.paths.stateFile, shimStateFor(o.paths, o.namespace, { id: o.id, bundle: o.bundle }));
    trace('vm-launch');
    const { sandbox, vmStartMs } = await ContainerVm.launch({
      sandboxId: o.paths.sandboxId,
      rootfs: config.rootPath,
      runBase: o.paths.vmBase,
      logger: o.logger,
      accelerator: await shimAccelerator(o.paths.base),
    });
    const runningAt = performance.timeOrigin + performance.now();
    const handle = await sandbox.detach().catch(async (err: unknown) => {
      await sandbox.stop().catch(() => undefined);
      throw err;
    });
    return {
      bundle: o.bundle,
      rootfs: config.rootPath,
      runDir: handle.runDir,
      sandboxId: o.paths.sandboxId,
      vmStartMs,
      runningAt,
    };
  } catch (err) {
    o.logger.warn({ err }, 'booting the VM in start failed; Create boots it');
    return undefined;
  }
}
