/** One benchmark: measures vmactor against a raw baseline in the same run. */
export interface Benchmark {
  readonly name: string;
  /** Runs the benchmark `runs` times (each side) and returns raw samples in ms. */
  run(runs: number): Promise<{ samples: number[]; baseline: number[]; extra?: Record<string, unknown> }>;
}

/** Median of a sample (the middle value; mean of the two middle values when even). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** High-resolution wall clock in milliseconds. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
