// The one hash of a QEMU command line: state.json records it, a template compares its clones by it.
import { createHash } from 'node:crypto';

/**
 * SHA-256 (hex) of an argv, arguments joined by NUL (no argument can hold one), so two argvs hash
 * alike only when QEMU gets the very same command line.
 *
 * @example
 * argvHash(['qemu-system-x86_64', '-S']); // '5b1e…'
 */
export function argvHash(argv: readonly string[]): string {
  return createHash('sha256').update(argv.join('\0')).digest('hex');
}
