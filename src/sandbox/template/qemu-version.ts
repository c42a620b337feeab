// The QEMU binary's version (`--version`, once per binary) and the templating minimum (4.1: x-ignore-shared).
import { execa } from 'execa';

/** A QEMU version. */
export interface QemuVersion {
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
}

/** The first QEMU with `x-ignore-shared` (templating without copying guest memory). */
export const TEMPLATE_MIN_QEMU: QemuVersion = { major: 4, minor: 1, micro: 0 };

const cache = new Map<string, Promise<QemuVersion | undefined>>();

/** Parses `QEMU emulator version 7.2.19 (Debian …)`; `undefined` when the text has no version. */
export function parseQemuVersion(text: string): QemuVersion | undefined {
  const m = /version (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), micro: Number(m[3] ?? 0) };
}

/** `a` is older than `b`. */
export function olderThan(a: QemuVersion, b: QemuVersion): boolean {
  if (a.major !== b.major) return a.major < b.major;
  if (a.minor !== b.minor) return a.minor < b.minor;
  return a.micro < b.micro;
}

/** Shown as `7.2.19`. */
export function formatVersion(v: QemuVersion): string {
  return `${v.major}.${v.minor}.${v.micro}`;
}

/**
 * The version `binary --version` prints (no shell; cached per binary for the process); `undefined`
 * when it cannot be run or read (the launch then reports the binary's own failure).
 *
 * @example
 * ```ts
 * const v = await qemuBinaryVersion('qemu-system-x86_64'); // { major: 7, minor: 2, micro: 19 }
 * ```
 */
export function qemuBinaryVersion(binary: string): Promise<QemuVersion | undefined> {
  let p = cache.get(binary);
  if (!p) {
    p = execa(binary, ['--version'], { reject: false, timeout: 10_000, shell: false }).then((r) =>
      r.exitCode === 0 ? parseQemuVersion(String(r.stdout)) : undefined,
    );
    cache.set(binary, p);
  }
  return p;
}
