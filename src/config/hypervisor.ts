// The `hypervisor` part of a config: each given knob parsed by its zod type from the knob table,
// unknown keys refused, then defaults applied; the draft the cross-field rules read and adjust.
import { z } from 'zod';
import { at, type Issues, isPlainObject, report, unknownKeyMessage } from './checks.js';
import { ARCH_DEFAULTS } from './defaults.js';
import { HYPERVISOR_KNOBS, type HypervisorKnobs, KNOB_ENTRIES, type Knob, resolveKnobs } from './knobs.js';
import type { HypervisorConfig } from './types.js';
import type { ValidateOptions } from './validate.js';
import { PARSE_OPTIONS, renderIssues } from './zod-issues.js';

/** Every key of `HypervisorConfig`, in the knob table's order. */
export const HYPERVISOR_KEYS = KNOB_ENTRIES.map(([key]) => key) as readonly (keyof HypervisorConfig)[];

/** The JSON input schema of `hypervisor`: every knob optional, described by its doc. */
export const hypervisorInputSchema = z.strictObject(
  Object.fromEntries(KNOB_ENTRIES.map(([key, row]) => [key, row.schema.optional().describe(row.doc)])) as {
    [K in keyof HypervisorKnobs]: z.ZodOptional<HypervisorKnobs[K]['schema']>;
  },
);

/** Knob values a user gave that passed their type, by key. */
export type GivenKnobs = Partial<Record<keyof HypervisorConfig, unknown>>;

/**
 * Parse the given knobs (each by its zod type); issues at `path.key`. Unknown keys get a
 * "did you mean" (checks.ts wording). Returns only the valid values.
 */
export function parseKnobs(issues: Issues, path: string, raw: Readonly<Record<string, unknown>>): GivenKnobs {
  const given: Record<string, unknown> = {};
  const rows = HYPERVISOR_KNOBS as Readonly<Record<string, Knob>>;
  for (const [key, value] of Object.entries(raw)) {
    const row = Object.hasOwn(rows, key) ? rows[key] : undefined;
    const where = at(path, key);
    if (row === undefined) {
      report(issues, where, unknownKeyMessage(where, key, HYPERVISOR_KEYS));
      continue;
    }
    if (value === undefined) continue;
    const parsed = row.schema.safeParse(value, PARSE_OPTIONS);
    if (parsed.success) given[key] = parsed.data;
    else issues.list.push(...renderIssues(parsed.error.issues, value, where, row.schema));
  }
  return given;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The hypervisor config being validated: what was given, and the resolved values rules may adjust. */
export interface HypervisorDraft {
  readonly issues: Issues;
  readonly opts: ValidateOptions;
  /** Valid values the user gave. */
  readonly given: GivenKnobs;
  /** Every knob resolved (given, else default); rules adjust it (e.g. s390x's `virtio-blk-ccw`). */
  readonly hv: Mutable<HypervisorConfig>;
  /** Host facts: CPUs and memory (MiB). */
  readonly host: { readonly cpus: number; readonly memoryMiB: number };
  /** True when the user gave `key` but its value was refused (presence rules then stay quiet). */
  invalid(key: keyof HypervisorConfig): boolean;
}

/** Build the draft of `raw` (the user's `hypervisor` object, `{}` when absent) for `arch`. */
export function draftHypervisor(
  issues: Issues,
  raw: unknown,
  given: GivenKnobs,
  opts: ValidateOptions,
  facts: {
    readonly arch: HypervisorConfig['arch'];
    readonly hostCpus: number;
    readonly hostMemoryMiB: number;
  },
): HypervisorDraft {
  const input: Readonly<Record<string, unknown>> = isPlainObject(raw) ? raw : {};
  const resolved = resolveKnobs(given, {
    arch: facts.arch,
    archDefaults: ARCH_DEFAULTS[facts.arch],
    hostCpus: facts.hostCpus,
    assets: opts.defaults ?? {},
  });
  const hv = { ...resolved, arch: facts.arch } as Mutable<HypervisorConfig>;
  const host = { cpus: facts.hostCpus, memoryMiB: facts.hostMemoryMiB };
  const invalid = (key: keyof HypervisorConfig): boolean =>
    input[key] !== undefined && given[key] === undefined;
  return { issues, opts, given, hv, host, invalid };
}
