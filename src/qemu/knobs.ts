// govmm Knobs: no-user-config, nodefaults, nographic, memory locking, seccomp sandbox.
import type { OptionPart } from './escape.js';
import { formatOptions } from './escape.js';

/** The boolean settings of a QEMU process (govmm `Knobs`, minus `Daemonize`: vmactor supervises). */
export interface Knobs {
  readonly noUserConfig: boolean;
  readonly noDefaults: boolean;
  readonly noGraphic: boolean;
  /** Lock guest and QEMU memory (`-overcommit mem-lock=on`; QEMU 7.2 removed `-realtime mlock=`). */
  readonly mlock: boolean;
  /** QEMU's seccomp policy, e.g. `on,obsolete=deny,spawn=deny` (Kata's `seccompsandbox`). */
  readonly seccompSandbox?: string;
}

/** The argv of the knobs, in govmm's order. `-daemonize` is never emitted. */
export function knobsArgs(k: Knobs): string[] {
  const out: string[] = [];
  if (k.noUserConfig) out.push('-no-user-config');
  if (k.noDefaults) out.push('-nodefaults');
  if (k.noGraphic) out.push('-nographic');
  if (k.mlock) out.push('-overcommit', 'mem-lock=on');
  if (k.seccompSandbox !== undefined && k.seccompSandbox !== '') {
    out.push('-sandbox', k.seccompSandbox);
  }
  return out;
}

/** Formats a seccomp policy from parts (e.g. `['on', ['spawn', 'deny']]`). */
export function sandboxArg(parts: readonly OptionPart[]): string {
  return formatOptions(parts);
}
