// The API's Unix socket: a 0700 parent dir, mode 0600, a stale socket replaced, a live one refused.
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fitsSocketPath } from '../devices/rules.js';
import { VmactorError } from '../errors/vmactor-error.js';
import { defaultRunBase } from '../process/run-dir.js';

/** The socket cannot be used: too long, in use by a live daemon, or not a socket. */
export class ServiceSocketError extends VmactorError {
  override readonly name = 'ServiceSocketError' as const;
  readonly code = 'ERR_SERVICE_SOCKET' as const;
  readonly path: string;
  constructor(message: string, path: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
  }
}

/**
 * Default API socket: `$VMACTOR_SOCKET`, else `<run base>/.service/api.sock` (`/run/vmactor/.service/api.sock`
 * as root). `.service` cannot be a sandbox id (ids start alphanumeric), so it never meets a run dir.
 */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VMACTOR_SOCKET) return resolve(env.VMACTOR_SOCKET);
  return join(defaultRunBase(env), '.service', 'api.sock');
}

/** True when something accepts connections on `path`. */
function listening(path: string): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/**
 * Makes `path` ready to listen on: the parent dir exists with mode 0700 (created if missing), a
 * stale socket is removed, a live one (another daemon) or a non-socket file is refused.
 */
export async function prepareSocket(path: string): Promise<string> {
  const abs = resolve(path);
  if (!fitsSocketPath(abs)) {
    throw new ServiceSocketError(`Expected a Unix socket path of at most 107 bytes, got \`${abs}\``, abs);
  }
  const dir = dirname(abs);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const st = await lstat(abs).catch(() => undefined);
  if (st) {
    if (!st.isSocket()) throw new ServiceSocketError(`\`${abs}\` exists and is not a socket`, abs);
    if (await listening(abs)) {
      throw new ServiceSocketError(`Another vmactor service is listening on \`${abs}\``, abs);
    }
    await unlink(abs);
  }
  return abs;
}

/** After listening: the socket is 0600 (who may connect is decided by owner and mode). */
export async function restrictSocket(path: string): Promise<void> {
  await chmod(path, 0o600);
}
