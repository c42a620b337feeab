// Guest asset rules: a kernel is required, exactly one of image and initrd (fallbacks from `opts.defaults`).
import { report } from './checks.js';
import type { HypervisorDraft } from './hypervisor.js';

/**
 * Kernel required; exactly one of image/initrd (Kata 2.x refuses both). With neither given, the
 * fallback initrd (else image) of `opts.defaults` is used. A field that was given but refused is
 * already reported: the presence rules skip it.
 */
export function checkAssets(d: HypervisorDraft): void {
  const { hv, issues } = d;
  const fallback = d.opts.defaults;
  const assetInvalid = d.invalid('imagePath') || d.invalid('initrdPath');
  if (hv.imagePath === '' && hv.initrdPath === '' && !assetInvalid) {
    hv.initrdPath = fallback?.initrdPath ?? '';
    hv.imagePath = hv.initrdPath === '' ? (fallback?.imagePath ?? '') : '';
  }
  if (hv.kernelPath === '' && !d.invalid('kernelPath')) {
    report(
      issues,
      'hypervisor.kernelPath',
      'Expected `hypervisor.kernelPath` to be an absolute path to the guest kernel, got nothing',
    );
  }
  if (hv.imagePath !== '' && hv.initrdPath !== '') {
    report(
      issues,
      'hypervisor.initrdPath',
      'Expected only one of `hypervisor.imagePath` and `hypervisor.initrdPath`, got both',
    );
  } else if (hv.imagePath === '' && hv.initrdPath === '' && !assetInvalid) {
    report(
      issues,
      'hypervisor.imagePath',
      'Expected one of `hypervisor.imagePath` and `hypervisor.initrdPath` to be set, got neither',
    );
  }
}
