// The shim's `start` run by hand, as containerd runs it (bundle as cwd): it launches the VM and
// hands it to the serving shim, a second `start` reuses that shim, and a shim nobody connects to
// stops its VM and exits, leaving nothing behind.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidfdBinding } from '../../src/process/pidfd.js';
import { shimPaths } from '../../src/shim/shim-paths.js';
import { busyboxRootfs, processesMentioning, SHIM } from '../helpers/containerd.js';
import { guest } from '../helpers/env.js';

guest('cloud');
let dir: string;
let bundle: string;
let shimDir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmshim-start-'));
  shimDir = join(dir, 'shim');
  bundle = join(dir, 'bundle');
  const rootfs = busyboxRootfs(dir);
  mkdirSync(bundle);
  const config = { process: { args: ['/bin/true'], cwd: '/' }, root: { path: rootfs } };
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const start = (id: string) =>
  execa(
    SHIM,
    ['-namespace', 'ns1', '-id', id, '-address', '/nowhere', '-publish-binary', '/bin/false', 'start'],
    {
      cwd: bundle,
      reject: false,
      env: { VMACTOR_SHIM_DIR: shimDir, VMACTOR_SHIM_CONNECT_DEADLINE_MS: '5000' },
    },
  );

/** Resolves when process `pid` (not our child) exits: a pidfd, no polling. */
function exited(pid: number): Promise<void> {
  const { pidfdOpen, pidfdWatch } = pidfdBinding();
  const fd = pidfdOpen(pid);
  return new Promise((resolve) => {
    const keepAlive = setTimeout(() => {}, 120_000);
    pidfdWatch(fd, () => {
      clearTimeout(keepAlive);
      resolve();
    });
  });
}

describe('containerd-shim-vmactor-v1 start', { timeout: 180_000 }, () => {
  it('launches the VM, is reused by a second start, and without containerd stops the VM and exits', async () => {
    const paths = shimPaths('ns1', 'c1', { VMACTOR_SHIM_DIR: shimDir });
    const first = await start('c1');
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toBe(`unix://${paths.socket}`);
    expect(readFileSync(join(bundle, 'address'), 'utf8')).toBe(first.stdout);
    const server = Number(readFileSync(paths.pidFile, 'utf8'));
    const gone = exited(server);
    // The VM `start` launched runs on (QEMU's argv names its run dir under the shim dir).
    expect((await processesMentioning(join(shimDir, 'vm'))).length).toBeGreaterThan(0);
    const again = await start('c1');
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toBe(first.stdout);
    expect(Number(readFileSync(paths.pidFile, 'utf8'))).toBe(server);
    await gone;
    expect(await processesMentioning(shimDir)).toEqual([]);
    expect(existsSync(paths.taskDir)).toBe(false);
    expect(readdirSync(join(shimDir, 'vm'))).toEqual([]);
  });
});
