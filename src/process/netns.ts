// Starting children inside a network namespace: the path is checked first, then `nsenter --net=… --` execs the binary.
import { execFile } from 'node:child_process';
import { stat, statfs } from 'node:fs/promises';
import { NetnsError } from './errors.js';

/** The binary that enters the namespace and execs the child (util-linux). */
export const NSENTER = 'nsenter';

/** `statfs` f_type of nsfs, the filesystem of namespace files (linux/magic.h `NSFS_MAGIC`). */
const NSFS_MAGIC = 0x6e736673;

/**
 * Checks that `path` is a network namespace file (e.g. `/var/run/netns/NAME` from `ip netns add`,
 * or `/proc/PID/ns/net`) and returns its identity `net:[inode]`, as `readlink /proc/PID/ns/net`
 * prints it. It must be absolute, exist, live on nsfs (a namespace file), and `setns(2)` into it
 * as a *network* namespace must work (nsenter runs `true` there; any other namespace type is
 * refused by the kernel). Throws {@link NetnsError} otherwise — before anything is launched.
 *
 * @example
 * ```ts
 * await checkNetns('/var/run/netns/blue'); // => 'net:[4026532281]'
 * ```
 */
export async function checkNetns(path: string): Promise<string> {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new NetnsError(
      `Expected \`netns\` to be an absolute path to a network namespace, got \`${String(path)}\``,
      String(path),
    );
  }
  let ino: number;
  try {
    const [fs, st] = await Promise.all([statfs(path), stat(path)]);
    if (fs.type !== NSFS_MAGIC) {
      throw new NetnsError(`Expected \`netns\` to be a namespace file (nsfs), got \`${path}\``, path);
    }
    ino = st.ino;
  } catch (cause) {
    if (cause instanceof NetnsError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    throw new NetnsError(
      `Expected \`netns\` to be a network namespace file, got \`${path}\` (${code})`,
      path,
      {
        cause,
      },
    );
  }
  const probe = await new Promise<{ ok: boolean; why: string }>((resolve) => {
    execFile(NSENTER, [`--net=${path}`, '--', 'true'], { timeout: 5_000 }, (err, _out, stderr) =>
      resolve({ ok: !err, why: String(stderr).trim() || (err?.message ?? '') }),
    );
  });
  if (!probe.ok) {
    throw new NetnsError(
      `Expected \`netns\` to be a network namespace, got \`${path}\`${probe.why ? ` (${probe.why})` : ''}`,
      path,
    );
  }
  return `net:[${ino}]`;
}

/**
 * The argv that runs `argv` inside the network namespace at `netns` with the same pid:
 * `nsenter --net=PATH -- argv…`. nsenter calls setns(2) on itself and execs (no `--fork`: a
 * network namespace applies to the caller at once), so the child Node spawned *is* the binary,
 * and fds given as stdio (QMP's socketpair, tap fds, virtiofsd's listener) pass through.
 * Chosen over setns(2) in the addon: setns moves the calling thread, so Node's main thread would
 * sit in the sandbox's namespace around the spawn (and must get back even when the spawn throws),
 * while nsenter confines the switch to the child, costs one exec, and needs no native code.
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
