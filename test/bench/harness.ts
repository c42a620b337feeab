import { mkdtempSync, statfsSync } from 'node:fs';

/** statfs(2) `f_type` of tmpfs. */
const TMPFS_MAGIC = 0x01021994;

/**
 * A fresh run base on tmpfs (`/dev/shm`), where the default run base `/run/vmactor` lives on a
 * systemd host (this machine's `/run` is on its disk, unlike a host's): benchmarks time what users
 * get, and state.json's fsyncs cost what they cost there. Throws if `/dev/shm` is not tmpfs.
 */
export function tmpfsRunBase(): string {
  if (statfsSync('/dev/shm').type !== TMPFS_MAGIC) {
    throw new Error(
      'Expected /dev/shm to be a tmpfs (the benchmarks run sandboxes from it, as /run on a host)',
    );
  }
  return mkdtempSync('/dev/shm/vmactor-bench-');
}

/** One row of figures: vmactor's samples against the raw baseline (and a minimal-argv raw side). */
export interface BenchRow {
  readonly name: string;
  readonly samples: number[];
  /** The raw client on the same argv (or the raw operation). */
  readonly baseline: number[];
  /** The raw client on a minimal argv (`-S`, one monitor, kernel + initrd), when measured. */
  readonly minimal?: number[];
  readonly extra?: Record<string, unknown>;
}

/** What a benchmark's run returns: one row (samples/baseline/extra), or several `rows`. */
export interface BenchResult {
  samples: number[];
  baseline: number[];
  extra?: Record<string, unknown>;
  /** Several rows from one run (each printed as its own JSON line instead of the above). */
  rows?: readonly BenchRow[];
}

/** One benchmark: measures vmactor against a raw baseline in the same run. */
export interface Benchmark {
  readonly name: string;
  /** Deadline of the whole run (default: the runner's, 10 min). */
  readonly deadlineMs?: number;
  /** Runs the benchmark `runs` times (each side) and returns raw samples in ms; `smoke`: CI's one pass. */
  run(runs: number, opts: { readonly smoke: boolean }): Promise<BenchResult>;
}

/** Median of a sample (the middle value; mean of the two middle values when even). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The `q` quantile (0..1) by nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

const r4 = (x: number): number => Number(x.toFixed(4));

/**
 * The JSON line of a row: medians, the ratio and the difference to the raw baseline, p99s, and
 * (when measured) the minimal-argv raw side's median and vmactor's ratio to it.
 */
export function summarize(row: BenchRow): Record<string, unknown> {
  const m = median(row.samples);
  const bm = median(row.baseline);
  const out: Record<string, unknown> = {
    name: row.name,
    median_ms: r4(m),
    baseline_median_ms: r4(bm),
    ratio: r4(m / bm),
    delta_ms: r4(m - bm),
    p99_ms: r4(quantile(row.samples, 0.99)),
    baseline_p99_ms: r4(quantile(row.baseline, 0.99)),
    runs: row.samples.length,
  };
  if (row.minimal && row.minimal.length > 0) {
    const mm = median(row.minimal);
    out.minimal_median_ms = r4(mm);
    out.ratio_vs_minimal = r4(m / mm);
    out.minimal_p99_ms = r4(quantile(row.minimal, 0.99));
  }
  return { ...out, ...row.extra };
}

/** High-resolution wall clock in milliseconds. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
