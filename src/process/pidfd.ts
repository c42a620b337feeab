// pidfd_open / pidfd_send_signal / a pidfd exit watch from the native addon: exit events for processes we did not spawn.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { PidfdError } from './errors.js';

/** The pidfd part of the native addon (native/src/pidfd.c). */
export interface PidfdBinding {
  /** `pidfd_open(pid, 0)`: an fd (close-on-exec); throws `ESRCH` when the process is gone. */
  pidfdOpen(pid: number): number;
  /** `pidfd_send_signal(fd, signo)`: false when the process already exited. */
  pidfdSendSignal(fd: number, signo: number): boolean;
  /**
   * Calls `callback` once when the pidfd becomes readable (the process exited); a uv_poll on
   * Node's loop, unref'd unless `keepAlive` (a child of ours keeps Node alive, as a ChildProcess does).
   */
  pidfdWatch(fd: number, callback: (status: number) => void, keepAlive?: boolean): object;
  /** Stops a watch that has not fired. */
  pidfdUnwatch(handle: object): void;
  /** `waitid(P_PIDFD, fd, WEXITED|WNOHANG)` for a child of ours: its exit (reaped now), or null while it runs. */
  pidfdReap(fd: number): { code: number | null; signal: number | null } | null;
  /**
   * `posix_spawnp` on a libuv worker thread: resolves with the pid. `fdPairs` is `[src, dst, …]`:
   * each src open here becomes dst in the child; the child gets its own session and default signals.
   */
  spawnAsync(
    file: string,
    argv: readonly string[],
    envp: readonly string[],
    fdPairs: readonly number[],
  ): Promise<number>;
  /** `pipe2(O_CLOEXEC)`: `[read, write]`. */
  pipeCloexec(): [number, number];
  /** `socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC)`: two connected ends. */
  socketpairCloexec(): [number, number];
}

const CANDIDATES = [
  '../../native/build/Release/vmactor_fd.node',
  '../../../native/build/Release/vmactor_fd.node',
];

let loaded: PidfdBinding | PidfdError | undefined;

function isBinding(x: unknown): x is PidfdBinding {
  return (
    typeof x === 'object' &&
    x !== null &&
    [
      'pidfdOpen',
      'pidfdSendSignal',
      'pidfdWatch',
      'pidfdUnwatch',
      'pidfdReap',
      'spawnAsync',
      'pipeCloexec',
      'socketpairCloexec',
    ].every((k) => typeof Reflect.get(x, k) === 'function')
  );
}

/**
 * The addon's pidfd functions (loaded once). Throws {@link PidfdError} when the addon is missing
 * or was built before pidfd support.
 *
 * @example
 * ```ts
 * const { pidfdOpen, pidfdWatch } = pidfdBinding();
 * const fd = pidfdOpen(qemuPid);
 * pidfdWatch(fd, () => console.log('QEMU exited'));
 * ```
 */
export function pidfdBinding(): PidfdBinding {
  loaded ??= load();
  if (loaded instanceof PidfdError) throw loaded;
  return loaded;
}

function load(): PidfdBinding | PidfdError {
  const require = createRequire(import.meta.url);
  const override = process.env.VMACTOR_FD_ADDON;
  const paths = override ? [override] : CANDIDATES.map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const found = paths.find((p) => existsSync(p));
  if (!found) return new PidfdError(`The native addon is not built (looked at ${paths.join(', ')})`);
  try {
    const mod: unknown = require(found);
    if (isBinding(mod)) return mod;
    return new PidfdError(
      `Expected ${found} to export pidfdOpen/pidfdWatch/spawnAsync (rebuild: node native/build.mjs)`,
    );
  } catch (cause) {
    return new PidfdError(`Could not load the native addon ${found}`, { cause });
  }
}
