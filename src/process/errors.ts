// Typed errors of the process layer: run dirs, spawning, early exits, virtiofsd, netns, fds, vsock CIDs.
import { VmactorError } from '../errors/vmactor-error.js';

/** A derived path would leave the sandbox run dir, or a socket path is too long. */
export class RunDirPathError extends VmactorError {
  override readonly name = 'RunDirPathError' as const;
  readonly code = 'ERR_RUN_DIR_PATH' as const;
  /** The offending path. */
  readonly path: string;
  constructor(message: string, path: string) {
    super(message);
    this.path = path;
  }
}

/** The sandbox run dir could not be created (exists already: another sandbox with this id, or a stale one). */
export class RunDirError extends VmactorError {
  override readonly name = 'RunDirError' as const;
  readonly code = 'ERR_RUN_DIR' as const;
  readonly path: string;
  constructor(message: string, path: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
  }
}

/** A child process could not be spawned (binary missing, not executable, ...). */
export class SpawnError extends VmactorError {
  override readonly name = 'SpawnError' as const;
  readonly code = 'ERR_SPAWN' as const;
  readonly binary: string;
  constructor(binary: string, options?: { cause?: unknown }) {
    const why = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`Could not spawn \`${binary}\`${why}`, options);
    this.binary = binary;
  }
}

/** QEMU exited before its QMP monitor was negotiated; `stderr` holds what it printed. */
export class QemuExitedEarlyError extends VmactorError {
  override readonly name = 'QemuExitedEarlyError' as const;
  readonly code = 'ERR_QEMU_EXITED_EARLY' as const;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** QEMU's stderr (and stdout) up to its exit. */
  readonly stderr: string;
  constructor(exitCode: number | null, signal: string | null, stderr: string, options?: { cause?: unknown }) {
    const how = signal ? `signal ${signal}` : `code ${exitCode}`;
    const text = stderr.trim();
    super(`QEMU exited early (${how})${text ? `: ${text}` : ''}`, options);
    this.exitCode = exitCode;
    this.signal = signal;
    this.stderr = stderr;
  }
}

/** virtiofsd exited before QEMU was up. */
export class VirtiofsdExitedEarlyError extends VmactorError {
  override readonly name = 'VirtiofsdExitedEarlyError' as const;
  readonly code = 'ERR_VIRTIOFSD_EXITED_EARLY' as const;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderr: string;
  constructor(exitCode: number | null, signal: string | null, stderr: string) {
    const how = signal ? `signal ${signal}` : `code ${exitCode}`;
    const text = stderr.trim();
    super(`virtiofsd exited early (${how})${text ? `: ${text}` : ''}`);
    this.exitCode = exitCode;
    this.signal = signal;
    this.stderr = stderr;
  }
}

/** The `netns` option is not a network namespace file (missing, an ordinary file, another namespace type). */
export class NetnsError extends VmactorError {
  override readonly name = 'NetnsError' as const;
  readonly code = 'ERR_NETNS' as const;
  /** The path given as `netns`. */
  readonly path: string;
  constructor(message: string, path: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
  }
}

/** A planned fd (tap queue, vhost-net, vhost-vsock) is not open in this process, or clashes with QMP's fd 3. */
export class LaunchFdError extends VmactorError {
  override readonly name = 'LaunchFdError' as const;
  readonly code = 'ERR_LAUNCH_FD' as const;
  /** The fd number as QEMU would see it. */
  readonly fd: number;
  /** The controller's fd that was to be passed. */
  readonly hostFd: number;
  constructor(message: string, fd: number, hostFd: number, options?: { cause?: unknown }) {
    super(message, options);
    this.fd = fd;
    this.hostFd = hostFd;
  }
}

/** A vsock guest CID is taken by another sandbox on this host (or none is free). */
export class VsockCidInUseError extends VmactorError {
  override readonly name = 'VsockCidInUseError' as const;
  readonly code = 'ERR_VSOCK_CID_IN_USE' as const;
  /** The CID asked for. */
  readonly contextId: number;
  /** The sandbox holding it, when known. */
  readonly owner: string | undefined;
  constructor(message: string, contextId: number, owner: string | undefined) {
    super(message);
    this.contextId = contextId;
    this.owner = owner;
  }
}

/** pidfd support (native addon, kernel ≥ 5.3) is missing, or a pidfd call failed. */
export class PidfdError extends VmactorError {
  override readonly name = 'PidfdError' as const;
  readonly code = 'ERR_PIDFD' as const;
}
