// Types of vmactor's sandbox and hypervisor configuration (Kata's hypervisor.go HypervisorConfig, camelCased).
//
// `HypervisorConfig` is derived from the knob table (knobs.ts); devices are the one `DeviceSpec`
// (src/devices/spec.ts) shared with hot plug.
import type { z } from 'zod';
import type { BlockDriver, DeviceSpec, DeviceSpecInput } from '../devices/spec.js';
import type { HypervisorKnobs } from './knobs.js';

export { ARCHES, type Arch } from '../devices/rules.js';
export { BLOCK_DRIVERS as BLOCK_DEVICE_DRIVERS } from '../devices/spec.js';
export { SHARED_FS_KINDS, type SharedFS } from './defaults.js';

/** A kernel or hypervisor parameter: `key=value`, or a bare `key` when `value` is empty. */
export interface Param {
  readonly key: string;
  readonly value: string;
}

/** Block device driver of the rootfs image and of disks (Kata's BlockDeviceDriver). */
export type BlockDeviceDriver = BlockDriver;

/** `T` with readonly arrays and objects, one level into array elements. */
type Frozen<T> = T extends readonly (infer E)[]
  ? readonly Frozen<E>[]
  : T extends object
    ? { readonly [K in keyof T]: T[K] }
    : T;

type KnobKey = keyof HypervisorKnobs;
type OptionalKnob = {
  [K in KnobKey]: HypervisorKnobs[K] extends { readonly optional: true } ? K : never;
}[KnobKey];
type KnobOut<K extends KnobKey> = Frozen<z.output<HypervisorKnobs[K]['schema']>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/**
 * The normalized hypervisor configuration: every field of Kata's `HypervisorConfig` that applies
 * to QEMU, with defaults applied (one row per field in knobs.ts `HYPERVISOR_KNOBS`, with its doc).
 * Produced by `validateConfig`, never built by hand. Sizes are MiB unless noted.
 */
export type HypervisorConfig = Simplify<
  { readonly [K in Exclude<KnobKey, OptionalKnob>]: KnobOut<K> } & {
    readonly [K in OptionalKnob]?: KnobOut<K>;
  }
>;

/** A knob's input type; list knobs in their array form (a `"a=1 b"` string is accepted at run time too). */
type KnobIn<K extends KnobKey> =
  z.output<HypervisorKnobs[K]['schema']> extends readonly unknown[]
    ? Exclude<z.input<HypervisorKnobs[K]['schema']>, string>
    : z.input<HypervisorKnobs[K]['schema']>;

/**
 * What a user may give for the hypervisor: any subset of the knobs (mutable, so callers can
 * build it up). Missing fields get defaults; `kernelPath` (and an image or initrd) may come from
 * `validateConfig`'s `opts.defaults`. `kernelParams` may also be a space-separated string at run
 * time, as Kata's `kernel_params` (the JSON Schema says so).
 */
export type HypervisorConfigInput = {
  [K in KnobKey]?: Frozen<KnobIn<K>>;
};

/** The `kind` discriminant of devices. */
export type { DeviceKind, DeviceSpec, DeviceSpecInput } from '../devices/spec.js';

/** What a user passes: an id, optional hypervisor settings, optional devices. JSON-friendly. */
export interface SandboxConfig {
  /** A JSON Schema reference for editors (`sandboxConfigJsonSchema()`); ignored. */
  readonly $schema?: string;
  /** Sandbox id, ASCII `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`, no `..`. */
  readonly id: string;
  readonly hypervisor?: HypervisorConfigInput;
  /** Cold-plugged devices: the same `DeviceSpec` `sb.hotplug` takes. */
  readonly devices?: readonly DeviceSpecInput[];
}

/** The normalized result of `validateConfig`: defaults applied, every rule checked. */
export interface ValidatedConfig {
  readonly id: string;
  readonly hypervisor: HypervisorConfig;
  readonly devices: readonly DeviceSpec[];
}

/** One problem found in a config: where (`hypervisor.memorySize`, `devices[2].file`) and what. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** Something a loader noticed but did not fail on: an ignored or unknown key, or a value Kata would adjust. */
export interface ConfigWarning {
  /** Where, e.g. `hypervisor.qemu.valid_hypervisor_paths`. */
  readonly key: string;
  readonly kind: 'ignored' | 'unknown' | 'adjusted';
  readonly reason: string;
}
