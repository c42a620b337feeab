// Starting children inside a network namespace: the path is checked first, then `nsenter --net=… --` execs the binary.
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { NetnsError } from './errors.js';

/** The binary that enters the namespace and execs the child (util-linux). */
export const NSENTER = 'nsenter';

/**
 * Checks that `path` is a network namespace file (e.g. `/var/run/netns/NAME` from `ip netns add`,
 * or `/proc/PID/ns/net`) and returns its identity `net:[inode]`, as `readlink /proc/PID/ns/net`
 * prints it. Throws {@link NetnsError} when it is missing, not a namespace, or another kind of
 * namespace — before anything is launched.
 *
 * @example
 * ```ts
 * checkNetns('/var/run/netns/blue'); // => 'net:[4026532281]'
 * ```
 */
export function checkNetns(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new NetnsError(
      `Expected \`netns\` to be an absolute path to a network namespace, got \`${String(path)}\``,
      String(path),
    );
  }
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    throw new NetnsError(
      `Expected \`netns\` to be a network namespace file, got \`${path}\` (${code})`,
      path,
      {
        cause,
      },
    );
  }
  try {
    // The kernel names an open namespace file by its type and inode; any other file is a path.
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    if (!/^net:\[\d+\]$/.test(target)) {
      throw new NetnsError(
        `Expected \`netns\` to be a network namespace file, got \`${path}\` (${target.startsWith('/') ? 'an ordinary file' : target})`,
        path,
      );
    }
    return target;
  } finally {
    closeSync(fd);
  }
}

/**
 * The argv that runs `argv` inside the network namespace at `netns` with the same pid:
 * `nsenter --net=PATH -- argv…`. nsenter calls setns(2) on itself and execs (no `--fork`: a
 * network namespace applies to the caller at once), so the child Node spawned *is* the binary,
 * and fds given as stdio (QMP's socketpair, tap fds, virtiofsd's listener) pass through.
 *
 * @example
 * ```ts
 * inNetns(['qemu-system-x86_64', '-S'], '/var/run/netns/blue');
 * // => ['nsenter', '--net=/var/run/netns/blue', '--', 'qemu-system-x86_64', '-S']
 * ```
 */
export function inNetns(argv: readonly string[], netns: string | undefined): readonly string[] {
  return netns === undefined ? argv : [NSENTER, `--net=${netns}`, '--', ...argv];
}
