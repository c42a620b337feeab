// Kata's GetSCSIIdLun: the SCSI target id and LUN of the n-th attached drive.
import { HotplugCapacityError, HotplugInputError } from './errors.js';

/** Drives Kata addresses on one virtio-scsi controller (ids 0..255 × LUNs 0..255). */
export const MAX_SCSI_DEVICES = 65535;

/**
 * The SCSI id and LUN for a drive index: `id = index / 256`, `lun = index % 256`
 * (Kata's `utils.GetSCSIIdLun`).
 *
 * @example
 * getSCSIIdLun(0)   // => { scsiId: 0, lun: 0 }
 * getSCSIIdLun(257) // => { scsiId: 1, lun: 1 }
 */
export function getSCSIIdLun(index: number): { scsiId: number; lun: number } {
  if (!Number.isInteger(index) || index < 0) {
    throw new HotplugInputError(`Expected \`index\` to be a non-negative integer, got \`${index}\``);
  }
  if (index >= MAX_SCSI_DEVICES) {
    throw new HotplugCapacityError(
      'scsi-ids',
      `Expected \`index\` to be below ${MAX_SCSI_DEVICES}, got \`${index}\`: at most ${MAX_SCSI_DEVICES} SCSI drives are supported`,
    );
  }
  return { scsiId: Math.floor(index / 256), lun: index % 256 };
}
