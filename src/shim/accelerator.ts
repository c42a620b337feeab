// The accelerator verdict, probed once per host and kept in the shim base, so each shim does not re-probe.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Accelerator, probeAccelerator } from '../guest/kvm-probe.js';

/**
 * `VMACTOR_ACCEL` if set, else the verdict in `<base>/accelerator` (written by the first shim that
 * probed on this host, the file lives on /run: gone after a reboot), else a probe whose verdict is kept.
 */
export async function shimAccelerator(base: string): Promise<Accelerator> {
  const file = join(base, 'accelerator');
  const forced = process.env.VMACTOR_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return forced;
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept === 'kvm' || kept === 'tcg') return kept;
  } catch {
    // Not probed yet on this host.
  }
  const accel = await probeAccelerator();
  writeFileSync(file, `${accel}\n`, { mode: 0o600 });
  return accel;
}
