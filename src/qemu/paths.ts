// Paths a sandbox derives under its run dir, each checked to stay there; socket length limits.
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fitsSocketPath } from '../devices/rules.js';
import { PathEscapeError, SocketPathTooLongError } from './errors.js';

/** Kata's file names in the sandbox dir. */
export const RUN_DIR_FILES = {
  qmpSocket: 'qmp.sock',
  consoleSocket: 'console.sock',
  agentSocket: 'kata.sock',
  virtiofsdSocket: 'vhost-fs.sock',
  pidFile: 'pid',
} as const;

/** Every path of a planned sandbox. */
export interface PlanPaths {
  readonly runDir: string;
  /** Second QMP monitor on a path, for a restarted controller to reattach. */
  readonly qmpSocket: string;
  /** virtconsole socket (the guest's hvc0). */
  readonly consoleSocket: string;
  /** Agent channel: virtserialport `agent.channel.0` (Kata's kata.sock). */
  readonly agentSocket: string;
  /** virtiofsd's vhost-user socket (virtio-fs only). */
  readonly virtiofsdSocket?: string;
  readonly pidFile: string;
}

/** Resolves `name` under `runDir`; a result outside it → `PathEscapeError`. */
export function underRunDir(runDir: string, name: string): string {
  const p = resolve(runDir, name);
  const rel = relative(runDir, p);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new PathEscapeError(
      `Expected \`${name}\` to resolve inside the run dir \`${runDir}\`, got \`${p}\``,
    );
  }
  return p;
}

/** Throws `SocketPathTooLongError` when `path` does not fit a `sockaddr_un`. */
export function checkSocketPath(path: string): string {
  if (!fitsSocketPath(path)) throw new SocketPathTooLongError(path, Buffer.byteLength(path, 'utf8'));
  return path;
}

/**
 * Derives the sandbox paths under `runDir` (must be absolute) and checks socket lengths.
 *
 * @example
 * planPaths('/run/vmactor/sb1', false).qmpSocket // => '/run/vmactor/sb1/qmp.sock'
 */
export function planPaths(runDir: string, virtioFs: boolean): PlanPaths {
  if (!isAbsolute(runDir)) {
    throw new PathEscapeError(`Expected \`runDir\` to be an absolute path, got \`${runDir}\``);
  }
  const dir = resolve(runDir);
  const sock = (name: string) => checkSocketPath(underRunDir(dir, name));
  return {
    runDir: dir,
    qmpSocket: sock(RUN_DIR_FILES.qmpSocket),
    consoleSocket: sock(RUN_DIR_FILES.consoleSocket),
    agentSocket: sock(RUN_DIR_FILES.agentSocket),
    ...(virtioFs ? { virtiofsdSocket: sock(RUN_DIR_FILES.virtiofsdSocket) } : {}),
    pidFile: underRunDir(dir, RUN_DIR_FILES.pidFile),
  };
}
