import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { QmpFdPassingError } from './errors.js';

/** The native addon's surface (native/src/fd_passing.c). */
export interface FdPassingBinding {
  /**
   * `sendmsg(socketFd, data, SCM_RIGHTS fds, MSG_DONTWAIT)`: bytes sent (the fds travel with the
   * first byte), or -1 when the socket buffer is full and nothing was sent. Throws on other errors.
   */
  sendWithFds(socketFd: number, data: Buffer, fds: readonly number[]): number;
}

function isBinding(x: unknown): x is FdPassingBinding {
  return typeof x === 'object' && x !== null && typeof Reflect.get(x, 'sendWithFds') === 'function';
}

// From src/qmp/ (tsx, vitest) and from dist/src/qmp/ (the build), the package root is 2 or 3 up.
const ADDON_CANDIDATES = [
  '../../native/build/Release/vmactor_fd.node',
  '../../../native/build/Release/vmactor_fd.node',
];

let loaded: FdPassingBinding | QmpFdPassingError | undefined;

/**
 * Loads the fd-passing addon once (built by `npm install`/`npm ci` through the root `install`
 * script). Throws {@link QmpFdPassingError} when it is missing, with the path it looked at.
 *
 * @example
 * ```ts
 * const { sendWithFds } = fdPassingBinding();
 * ```
 */
export function fdPassingBinding(): FdPassingBinding {
  if (loaded === undefined) loaded = loadBinding();
  if (loaded instanceof QmpFdPassingError) throw loaded;
  return loaded;
}

function loadBinding(): FdPassingBinding | QmpFdPassingError {
  const require = createRequire(import.meta.url);
  const override = process.env.VMACTOR_FD_ADDON;
  const paths = override
    ? [override]
    : ADDON_CANDIDATES.map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const found = paths.find((p) => existsSync(p));
  if (!found) {
    return new QmpFdPassingError(
      `The fd-passing addon is not built (looked at ${paths.join(', ')}); run \`npm install\` or \`node native/build.mjs\``,
    );
  }
  try {
    const mod: unknown = require(found);
    if (isBinding(mod)) return mod;
    return new QmpFdPassingError(`Expected ${found} to export \`sendWithFds\``);
  } catch (cause) {
    return new QmpFdPassingError(`Could not load the fd-passing addon ${found}`, { cause });
  }
}

/**
 * The OS file descriptor under a connected `net.Socket` (a socketpair end such as
 * `child.stdio[3]`, or a socket connected to a Unix path). Node does not type its handle, so the
 * handle is read as `unknown` and narrowed.
 *
 * @example
 * ```ts
 * const fd = socketFd(child.stdio[3] as Socket); // e.g. 21
 * ```
 */
export function socketFd(socket: Socket): number {
  const handle: unknown = Reflect.get(socket, '_handle');
  if (typeof handle === 'object' && handle !== null && 'fd' in handle) {
    const fd: unknown = handle.fd;
    if (typeof fd === 'number' && Number.isInteger(fd) && fd >= 0) return fd;
  }
  throw new QmpFdPassingError('Expected a connected Unix socket with an OS file descriptor, got none');
}
