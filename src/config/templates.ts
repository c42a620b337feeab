// VM template and memory-backend rules (Kata's checkTemplateConfig and qemu.go's refusals).
import { report } from './checks.js';
import type { HypervisorDraft } from './hypervisor.js';

/**
 * Templates need `memoryPath` (and `devicesStatePath` to boot from one), never both roles, never
 * with virtio-fs, virtio-mem, file-backed memory or an image (Kata's factory needs an initrd); the vhost-user
 * store needs huge pages.
 */
export function checkTemplates(d: HypervisorDraft): void {
  const { hv, issues } = d;
  const toBe = hv.bootToBeTemplate;
  const from = hv.bootFromTemplate;
  if (toBe && from) {
    report(
      issues,
      'hypervisor.bootFromTemplate',
      "Expected at most one of `hypervisor.bootToBeTemplate` and `hypervisor.bootFromTemplate`, got both (cannot set both 'to be' and 'from' VM template)",
    );
  }
  if (toBe || from) {
    if (hv.memoryPath === '')
      report(
        issues,
        'hypervisor.memoryPath',
        'Expected `hypervisor.memoryPath` to be set for a VM template, got nothing',
      );
    if (from && hv.devicesStatePath === '') {
      report(
        issues,
        'hypervisor.devicesStatePath',
        'Expected `hypervisor.devicesStatePath` to be set to boot from a VM template, got nothing',
      );
    }
    if (hv.sharedFS === 'virtio-fs') {
      report(
        issues,
        'hypervisor.sharedFS',
        'Expected `hypervisor.sharedFS` not to be `virtio-fs` with VM templating (virtio-fs needs shared memory; templates need private memory)',
      );
    }
    if (hv.fileBackedMemRootDir !== '') {
      report(
        issues,
        'hypervisor.fileBackedMemRootDir',
        'Expected no `hypervisor.fileBackedMemRootDir` with VM templating (templates bring their own memory file)',
      );
    }
    if (hv.virtioMem) {
      report(
        issues,
        'hypervisor.virtioMem',
        'Expected `hypervisor.virtioMem` to be false with VM templating (a virtio-mem device realized on the template cannot be migrated into its clones)',
      );
    }
    if (hv.imagePath !== '' && hv.initrdPath === '') {
      report(
        issues,
        'hypervisor.imagePath',
        'Expected `hypervisor.initrdPath` instead of `hypervisor.imagePath` with VM templating (Kata: templates require an initrd)',
      );
    }
  }
  if (hv.enableVhostUserStore && !hv.hugePages) {
    report(
      issues,
      'hypervisor.enableVhostUserStore',
      'Expected `hypervisor.hugePages` to be true with `hypervisor.enableVhostUserStore` (vhost-user-blk/scsi needs shared huge-page memory)',
    );
  }
}
