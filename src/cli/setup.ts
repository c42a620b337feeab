// `vmactor setup [--flavour cloud|generic|all] [--cache-dir DIR] [--force] [--check]`.
import { parseArgs } from 'node:util';
import { VmactorError } from '../errors/vmactor-error.js';
import { setupGuest } from '../guest/build.js';
import { runSetupCheck } from '../guest/check.js';
import type { GuestFlavour } from '../guest/paths.js';

const USAGE = `usage: vmactor setup [--flavour cloud|generic|all] [--cache-dir DIR] [--force]
       vmactor setup --check [--cache-dir DIR]

Builds the default guest (Debian kernel + busybox initrd) into the cache directory
($VMACTOR_CACHE_DIR, else $XDG_CACHE_HOME/vmactor, else ~/.cache/vmactor). Idempotent.
--check prints the QEMU version, virtiofsd, the guest status and the usable accelerator.
`;

/** Runs `vmactor setup`; returns the process exit code. */
export async function runSetup(argv: readonly string[]): Promise<number> {
  let values: { flavour?: string; 'cache-dir'?: string; force?: boolean; check?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        flavour: { type: 'string' },
        'cache-dir': { type: 'string' },
        force: { type: 'boolean' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const flavour = values.flavour ?? 'all';
  if (!['cloud', 'generic', 'all'].includes(flavour)) {
    process.stderr.write(`Expected \`--flavour\` to be cloud, generic or all, got \`${flavour}\`\n`);
    return 2;
  }
  const cacheDir = values['cache-dir'];
  if (values.check) return runSetupCheck({ cacheDir, out: (l) => process.stdout.write(`${l}\n`) });
  const flavours: GuestFlavour[] = flavour === 'all' ? ['cloud', 'generic'] : [flavour as GuestFlavour];
  const started = Date.now();
  try {
    const results = await setupGuest({
      flavours,
      ...(cacheDir === undefined ? {} : { cacheDir }),
      force: values.force ?? false,
      onProgress: (l) => process.stderr.write(`vmactor setup: ${l}\n`),
    });
    for (const r of results) {
      process.stdout.write(
        `${r.flavour}: ${r.status} ${r.manifest.kernelRelease} (${r.manifest.modules.loaded.length} modules) in ${(r.ms / 1000).toFixed(1)} s\n`,
      );
    }
    process.stderr.write(`vmactor setup: finished in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return 0;
  } catch (e) {
    if (e instanceof VmactorError) {
      process.stderr.write(`vmactor setup: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
