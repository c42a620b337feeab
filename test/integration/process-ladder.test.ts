// The stop ladder on real processes: each rung (quit, wait, SIGTERM, SIGKILL) ends what it should.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { watchExit } from '../../src/process/exit.js';
import { type Stoppable, stopProcess } from '../../src/process/stop-ladder.js';
import { descendants } from '../helpers/census.js';

/** A node child that prints `ready` once its handlers are installed; `ignoreTerm` ignores SIGTERM. */
async function child(opts: {
  ignoreTerm: boolean;
  exitOnStdin?: boolean;
}): Promise<Stoppable & { write(s: string): void }> {
  const script = [
    opts.ignoreTerm ? "process.on('SIGTERM', () => {});" : '',
    opts.exitOnStdin ? "process.stdin.on('data', () => process.exit(0));" : 'process.stdin.resume();',
    "process.stdout.write('ready\\n');",
  ].join('');
  const c = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'], shell: false });
  const w = watchExit(c, c.pid as number);
  await new Promise<void>((resolve) => c.stdout?.once('data', () => resolve()));
  return {
    pid: c.pid as number,
    exited: w.exited,
    exitInfo: w.current,
    kill: (s) => c.kill(s),
    write: (s) => c.stdin?.write(s),
  };
}

const policy = { quitTimeoutMs: 2_000, termTimeoutMs: 300, killTimeoutMs: 5_000 };

describe('the stop ladder', () => {
  it('ends at the quit rung when the polite request works', async () => {
    const p = await child({ ignoreTerm: false, exitOnStdin: true });
    const out = await stopProcess(p, policy, async () => p.write('quit\n'));
    expect(out.rung).toBe('quit');
    expect(out.exit.code).toBe(0);
  });

  it('escalates to SIGTERM when nothing else ends the process (wait-only)', async () => {
    const p = await child({ ignoreTerm: false });
    const out = await stopProcess(p, { ...policy, quitTimeoutMs: 100 });
    expect(out.rung).toBe('SIGTERM');
    expect(out.exit.signal).toBe('SIGTERM');
  });

  it('escalates to SIGKILL when SIGTERM is ignored, and reaps', async () => {
    const p = await child({ ignoreTerm: true });
    const out = await stopProcess(p, { ...policy, quitTimeoutMs: 50 });
    expect(out.rung).toBe('SIGKILL');
    expect(out.exit.signal).toBe('SIGKILL');
    expect(descendants()).toEqual([]);
  });

  it('returns at once for a process that already exited', async () => {
    const p = await child({ ignoreTerm: false });
    p.kill('SIGKILL');
    await p.exited;
    const out = await stopProcess(p, policy);
    expect(out.rung).toBe('already-exited');
  });

  it('emits the exit once on exit$, also to late subscribers', async () => {
    const c = spawn(process.execPath, ['-e', 'process.exit(7)'], { stdio: 'ignore', shell: false });
    const w = watchExit(c, c.pid as number);
    await w.exited;
    const seen: number[] = [];
    await new Promise<void>((resolve) =>
      w.exit$.subscribe({ next: (x) => seen.push(x.code ?? -1), complete: resolve }),
    );
    expect(seen).toEqual([7]);
  });
});
