// Runs test/bench/*.bench.ts; prints one JSON line per benchmark (or per row of one):
// {name, median_ms, baseline_median_ms, ratio, delta_ms, p99_ms, runs, …}. `--smoke` runs each once (CI).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Benchmark, summarize } from '../test/bench/harness.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const runsArg = args.find((a) => a.startsWith('--runs='));
const filters = args.filter((a) => !a.startsWith('--'));
const runs = smoke ? 3 : runsArg ? Number(runsArg.slice(7)) : 30;
const DEADLINE_MS = 600_000;

const dir = fileURLToPath(new URL('../test/bench/', import.meta.url));
let failed = false;
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort()) {
  const mod = (await import(pathToFileURL(join(dir, file)).href)) as { benchmarks?: Benchmark[] };
  for (const b of mod.benchmarks ?? []) {
    if (filters.length && !filters.some((f) => b.name.includes(f))) continue;
    try {
      // A deadline, not a timing: a benchmark that hangs fails the run instead of stalling CI.
      let timer: NodeJS.Timeout | undefined;
      const ms = b.deadlineMs ?? DEADLINE_MS;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no result within ${ms} ms`)), ms);
      });
      const result = await Promise.race([b.run(runs, { smoke }), deadline]).finally(() =>
        clearTimeout(timer),
      );
      const rows = result.rows ?? [{ name: b.name, ...result }];
      for (const row of rows) process.stdout.write(`${JSON.stringify(summarize(row))}\n`);
    } catch (err) {
      failed = true;
      process.stderr.write(`benchmark ${b.name} failed: ${String((err as Error).stack ?? err)}\n`);
    }
  }
}
// Exit explicitly: a benchmark that missed its deadline may still hold handles.
process.exit(failed ? 1 : 0);
