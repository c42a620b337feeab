// The kernel command line the default guest expects.

/** Options of {@link guestKernelCmdline}. */
export interface GuestCmdlineOptions {
  /** Console device for kernel messages and the ready line. Default `ttyS0`. */
  readonly console?: string;
  /** Keep the kernel's boot log off the console (faster under TCG). Default `true`. */
  readonly quiet?: boolean;
  /** Extra parameters appended verbatim (one per element). */
  readonly extra?: readonly string[];
}

/**
 * Kernel parameters for the default guest: the console (the ready line is always printed
 * there), in-kernel onlining of hot-added memory (`memhp_default_state=online`), and the
 * Kata-style knobs that shorten boot under TCG. CPUs stay offline until `online-cpus`.
 *
 * @example
 * ['-kernel', guest.kernel, '-initrd', guest.initrd, '-append', guestKernelCmdline()]
 */
export function guestKernelCmdline(options: GuestCmdlineOptions = {}): string {
  const params = [
    `console=${options.console ?? 'ttyS0'}`,
    ...(options.quiet === false ? [] : ['quiet']),
    'memhp_default_state=online',
    'panic=0',
    'no_timer_check',
    'tsc=reliable',
    'cryptomgr.notests',
    'rcupdate.rcu_expedited=1',
    'i8042.noaux=1',
    'i8042.nopnp=1',
    'i8042.dumbkbd=1',
    ...(options.extra ?? []),
  ];
  return params.join(' ');
}
