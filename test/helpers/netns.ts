// Network namespaces a test creates (and deletes), and a child process whose output a test reads.
import { execFileSync, spawn } from 'node:child_process';
import { hostBinary } from './env.js';

/** The `ip` binary (iproute2). */
export const IP = hostBinary('ip');

/** Namespaces made by one test file: `add()` creates `vmactor-<prefix>-<pid>-<suffix>`, `removeAll()` deletes them. */
export interface TestNetns {
  /** Creates a namespace and returns its name (its file is `/var/run/netns/<name>`). */
  add(suffix: string): string;
  /** Deletes every namespace this helper created (call in afterEach). */
  removeAll(): void;
}

/**
 * Network namespaces for one test file, named after the test process so parallel runs never collide.
 *
 * @example
 * const netns = testNetns('launch');
 * afterEach(() => netns.removeAll());
 * const ns = netns.add('fd'); // 'vmactor-launch-1234-fd'
 */
export function testNetns(prefix: string): TestNetns {
  const made: string[] = [];
  return {
    add(suffix) {
      const ns = `vmactor-${prefix}-${process.pid}-${suffix}`;
      execFileSync(IP, ['netns', 'add', ns]);
      made.push(ns);
      return ns;
    },
    removeAll() {
      for (const ns of made.splice(0)) execFileSync(IP, ['netns', 'del', ns]);
    },
  };
}

/** Runs a command to its end and returns its exit code and output (never a shell). */
export function runChild(
  cmd: string,
  args: readonly string[],
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  });
}
