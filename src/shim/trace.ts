// Optional timing trace of the shim's steps (VMACTOR_SHIM_TRACE=FILE): one JSON line per step, for the benchmark.
import { appendFileSync } from 'node:fs';

/** A step the shim marks: process start, listening, each Task call, the VM's boot split. */
export interface TraceLine {
  /** Epoch ms with sub-ms precision. */
  readonly t: number;
  readonly pid: number;
  readonly step: string;
  readonly [field: string]: unknown;
}

/** Appends `{t, pid, step, ...fields}` to `$VMACTOR_SHIM_TRACE` when it is set; a no-op otherwise. */
export function trace(step: string, fields: Record<string, unknown> = {}): void {
  const file = process.env.VMACTOR_SHIM_TRACE;
  if (!file) return;
  const line: TraceLine = {
    t: performance.timeOrigin + performance.now(),
    pid: process.pid,
    step,
    ...fields,
  };
  try {
    appendFileSync(file, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  } catch {
    // Tracing never fails the shim.
  }
}
