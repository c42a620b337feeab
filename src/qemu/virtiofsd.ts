// virtiofsd argv (Kata's virtcontainers/virtiofsd.go `args()`) for QEMU 7.2's bundled C virtiofsd.

/** Inputs of {@link virtiofsdArgs}. */
export interface VirtiofsdOptions {
  /** Binary; default `/usr/lib/qemu/virtiofsd` (Debian's qemu-system-common). */
  readonly binary?: string;
  /** A listening vhost-user socket fd as virtiofsd sees it (`--fd=N`), or … */
  readonly fd?: number;
  /** … the socket path virtiofsd creates (`--socket-path=`). */
  readonly socketPath?: string;
  /** The shared directory (`-o source=`). */
  readonly source: string;
  /** `-o cache=` (`auto`, `always`, `none`). */
  readonly cache: string;
  /** Debug output (`-d`, implies foreground) instead of `-f`. */
  readonly debug?: boolean;
  /** Log to syslog as Kata does; default off (vmactor captures stderr). */
  readonly syslog?: boolean;
  /** `--thread-pool-size=N`. */
  readonly threadPoolSize?: number;
  /** Appended verbatim last (Kata's `virtio_fs_extra_args`). */
  readonly extraArgs?: readonly string[];
}

/** Default virtiofsd of QEMU 7.2 on Debian. */
export const DEFAULT_VIRTIOFSD = '/usr/lib/qemu/virtiofsd';

/** Escapes a value inside a FUSE `-o` option list: backslash and comma get a backslash. */
export function escapeFuseOption(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll(',', '\\,');
}

/**
 * argv of virtiofsd (argv[0] the binary), as Kata's virtiofsdArgs: socket, source, cache,
 * `-o no_posix_lock`, `-d` or `-f`, then extra args.
 *
 * @example
 * virtiofsdArgs({ socketPath: '/run/vm/vhost-fs.sock', source: '/srv/share', cache: 'auto' })
 * // => ['/usr/lib/qemu/virtiofsd', '--socket-path=/run/vm/vhost-fs.sock', '-o', 'source=/srv/share',
 * //     '-o', 'cache=auto', '-o', 'no_posix_lock', '-f']
 */
export function virtiofsdArgs(o: VirtiofsdOptions): string[] {
  const out = [o.binary ?? DEFAULT_VIRTIOFSD];
  if (o.fd !== undefined) out.push(`--fd=${o.fd}`);
  else if (o.socketPath !== undefined) out.push(`--socket-path=${o.socketPath}`);
  out.push('-o', `source=${escapeFuseOption(o.source)}`, '-o', `cache=${o.cache}`);
  if (o.syslog) out.push('--syslog');
  out.push('-o', 'no_posix_lock');
  out.push(o.debug ? '-d' : '-f');
  if (o.threadPoolSize !== undefined) out.push(`--thread-pool-size=${o.threadPoolSize}`);
  if (o.extraArgs) out.push(...o.extraArgs);
  return out;
}
