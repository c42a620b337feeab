// Where one shim keeps its socket, state and VM: derived from (namespace, container id), checked.
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ShimInputError } from './errors.js';

/** containerd's identifier rule (namespaces and container ids): ASCII, ≤ 76, no path tricks. */
const CONTAINERD_ID = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/** Longest Unix socket path (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/** The files and names of one shim. */
export interface ShimPaths {
  /** `$VMACTOR_SHIM_DIR`, else `/run/vmactor-shim` as root, else `<tmpdir>/vmactor-shim-<uid>`. */
  readonly base: string;
  /** `<base>/task/<key>` (0700): the socket, `shim.json` and `shim.log`. */
  readonly taskDir: string;
  readonly socket: string;
  readonly stateFile: string;
  readonly logFile: string;
  /** The serving shim's pid. */
  readonly pidFile: string;
  /** Run base of the shim's sandbox VMs, `<base>/vm`. */
  readonly vmBase: string;
  /** The sandbox id: `ctr-` + 16 hex digits of sha256(namespace/id). */
  readonly sandboxId: string;
}

/** Throws {@link ShimInputError} unless `value` is a containerd identifier. */
export function checkContainerdId(what: string, value: string | undefined): string {
  if (value === undefined || value.length > 76 || !CONTAINERD_ID.test(value)) {
    throw new ShimInputError(
      `Expected \`${what}\` to be a containerd identifier (${CONTAINERD_ID}, ≤ 76 chars), got \`${value ?? ''}\``,
    );
  }
  return value;
}

/** The shim's base directory. */
export function shimBase(
  env: NodeJS.ProcessEnv = process.env,
  uid: number = process.getuid?.() ?? -1,
): string {
  if (env.VMACTOR_SHIM_DIR) return resolve(env.VMACTOR_SHIM_DIR);
  return uid === 0 ? '/run/vmactor-shim' : join(tmpdir(), `vmactor-shim-${uid}`);
}

/** Paths of the shim of container `id` in `namespace`. Throws {@link ShimInputError} on bad ids or a too-long socket path. */
export function shimPaths(namespace: string, id: string, env: NodeJS.ProcessEnv = process.env): ShimPaths {
  checkContainerdId('-namespace', namespace);
  checkContainerdId('-id', id);
  const base = shimBase(env);
  const key = createHash('sha256').update(`${namespace}/${id}`).digest('hex').slice(0, 16);
  const taskDir = join(base, 'task', key);
  const socket = join(taskDir, 'ttrpc.sock');
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new ShimInputError(
      `Expected the shim socket path to be ≤ ${MAX_SOCKET_PATH} bytes, got \`${socket}\``,
    );
  }
  return {
    base,
    taskDir,
    socket,
    stateFile: join(taskDir, 'shim.json'),
    logFile: join(taskDir, 'shim.log'),
    pidFile: join(taskDir, 'shim.pid'),
    vmBase: join(base, 'vm'),
    sandboxId: `ctr-${key}`,
  };
}
