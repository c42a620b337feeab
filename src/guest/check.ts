// `vmactor setup --check`: reports QEMU, virtiofsd, the default guest and the usable accelerator.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { execa } from 'execa';
import { artifactsMatch, readGuestManifest } from './build.js';
import { probeAcceleratorDetails } from './kvm-probe.js';
import { guestCacheDir } from './paths.js';
import { findExecutable } from './prerequisites.js';

/** Where Debian's qemu-system-common installs virtiofsd. */
export const VIRTIOFSD_PATH = '/usr/lib/qemu/virtiofsd';

/** Options of {@link runSetupCheck}. */
export interface SetupCheckOptions {
  readonly cacheDir?: string | undefined;
  /** Receives one report line at a time. */
  readonly out: (line: string) => void;
}

/**
 * Prints the QEMU version, virtiofsd, each guest flavour's status and the accelerator the
 * probe chose. Returns 0 when QEMU runs and the cloud guest is intact, else 1.
 *
 * @example
 * process.exitCode = await runSetupCheck({ out: (l) => console.log(l) });
 */
export async function runSetupCheck(options: SetupCheckOptions): Promise<number> {
  const { out } = options;
  const cacheDir = options.cacheDir ?? guestCacheDir();
  let healthy = true;

  const qemu = await findExecutable('qemu-system-x86_64');
  if (qemu) {
    const v = await execa(qemu, ['--version'], { reject: false, timeout: 10_000 });
    out(`qemu: ${v.stdout.split('\n')[0] ?? '?'} (${qemu})`);
    if (v.exitCode !== 0) healthy = false;
  } else {
    out('qemu: missing (apt-get install qemu-system-x86)');
    healthy = false;
  }

  try {
    await access(VIRTIOFSD_PATH, constants.X_OK);
    out(`virtiofsd: ${VIRTIOFSD_PATH}`);
  } catch {
    out(`virtiofsd: missing at ${VIRTIOFSD_PATH} (apt-get install qemu-system-common)`);
  }

  out(`cache: ${cacheDir}`);
  for (const flavour of ['cloud', 'generic'] as const) {
    const m = await readGuestManifest(flavour, cacheDir);
    if (!m) {
      out(`guest ${flavour}: not built (run \`vmactor setup\`)`);
      if (flavour === 'cloud') healthy = false;
      continue;
    }
    const intact = await artifactsMatch(m, cacheDir);
    out(
      `guest ${flavour}: ${intact ? 'ready' : 'CORRUPT (hash mismatch; run `vmactor setup --force`)'} ` +
        `${m.kernelRelease} from ${m.inputs.package.name} ${m.inputs.package.version}, ` +
        `${m.modules.loaded.length} modules, built ${m.builtAt}`,
    );
    if (!intact && flavour === 'cloud') healthy = false;
  }

  if (qemu) {
    const probe = await probeAcceleratorDetails({ qemu, fresh: true });
    out(`accelerator: ${probe.accel} (${probe.reason}; probe ${probe.ms} ms)`);
  } else out('accelerator: tcg (no QEMU to probe with)');
  return healthy ? 0 : 1;
}
