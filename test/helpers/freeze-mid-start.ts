// For the reattach children: start a sandbox and SIGSTOP this process the moment QEMU wrote its pid file.
import { readFileSync, watch } from 'node:fs';
import { join } from 'node:path';

/** What the frozen child needs of its sandbox. */
interface Starting {
  readonly runDir: string;
  readonly phase: string;
  start(): Promise<unknown>;
}

/**
 * Starts `sb` and, once its run dir (under `runBase`, named `id`) holds QEMU's pid file, prints
 * `{"starting":true,"qemuPid":…,…extra}` on stdout and stops this process (SIGSTOP): a controller
 * frozen mid-start, run dir made, start unfinished.
 */
export function freezeMidStart(
  runBase: string,
  id: string,
  sb: Starting,
  extra: (sb: Starting) => Record<string, unknown> = () => ({}),
): void {
  const w = watch(runBase, (_e, name) => {
    if (name !== id) return;
    w.close();
    const inner = watch(sb.runDir, (_e2, file) => {
      if (file !== 'pid') return;
      inner.close();
      const qemuPid = Number(readFileSync(join(sb.runDir, 'pid'), 'utf8').trim() || 0);
      process.stdout.write(`${JSON.stringify({ starting: true, ...extra(sb), qemuPid })}\n`);
      process.kill(process.pid, 'SIGSTOP');
    });
  });
  void sb.start().catch(() => {});
}
