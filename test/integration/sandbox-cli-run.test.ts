// `vmactor run` end to end: boots the default guest, prints progress, lifecycle events and the ready
// line, exercises a virtio-fs share in the guest, stops after --for or on SIGINT; exit code = reason.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { freshId, tempRunBase } from './sandbox-fixtures.js';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const base = tempRunBase();
afterAll(() => rmSync(base, { recursive: true, force: true }));

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs the CLI; `onLine` sees stdout lines as they come (and may signal the process). */
function vmactor(args: readonly string[], onLine?: (line: string, pid: number) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VMACTOR_RUN_DIR: base, VMACTOR_ACCEL: 'tcg' },
      shell: false,
    });
    let out = '';
    let err = '';
    let partial = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLine?.(l, child.pid as number);
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

describe('vmactor run', () => {
  it('boots the default guest, reads the share in the guest, pauses and resumes it, stops after --for with exit 0', async () => {
    const share = mkdtempSync('/tmp/vmactor-share-');
    try {
      writeFileSync(join(share, 'greeting.txt'), 'hello from the host\n');
      const r = await vmactor(['run', '--for', '0.5', '--share', share, '--pause', '--id', freshId('cli')]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const lines = r.out.split('\n');
      const order = [
        /lifecycle: created -> starting/,
        /lifecycle: starting -> running/,
        /guest ready: VMACTOR-GUEST-READY \S+/,
        /share: read in guest \/mnt\/share\/greeting\.txt \(20 bytes\): hello from the host/,
        /lifecycle: running -> paused \(requested\)/,
        /paused: a guest request is queued/,
        /lifecycle: paused -> running \(requested\)/,
        /resumed: the queued request was answered/,
        /stopping \(--for 0\.5\)/,
        /lifecycle: running -> stopping \(requested\)/,
        /lifecycle: stopping -> stopped \(requested\)/,
        /stopped: requested \(exit 0\)/,
      ];
      let at = -1;
      for (const re of order) {
        const i = lines.findIndex((l, k) => k > at && re.test(l));
        expect(i, `expected a line matching ${re} after line ${at}:\n${r.out}`).toBeGreaterThan(at);
        at = i;
      }
      expect(descendants()).toEqual([]);
      expect(leftovers(base)).toEqual([]);
    } finally {
      rmSync(share, { recursive: true, force: true });
    }
  });

  it('stops cleanly on SIGINT (Ctrl-C) with exit 0', async () => {
    const r = await vmactor(['run', '--id', freshId('cli')], (line, pid) => {
      if (line.includes('guest ready:')) process.kill(pid, 'SIGINT');
    });
    expect(r.out).toMatch(/stopping \(SIGINT\)/);
    expect(r.out).toMatch(/stopped: requested \(exit 0\)/);
    expect(r.code).toBe(0);
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it("exits 5 (start-failed) with QEMU's own error when the kernel does not exist", async () => {
    const cfgDir = mkdtempSync('/tmp/vmactor-cfg-');
    try {
      const cfg = join(cfgDir, 'bad-kernel.json');
      const initrd = guest('cloud')?.initrd as string;
      const hypervisor = { kernelPath: '/nonexistent/vmlinuz', initrdPath: initrd };
      writeFileSync(cfg, JSON.stringify({ id: freshId('cli'), hypervisor }));
      const r = await vmactor(['run', '--config', cfg]);
      expect(r.code).toBe(5);
      expect(r.out).toMatch(/lifecycle: stopping -> stopped \(start-failed\)/);
      expect(r.err).toMatch(/QEMU exited early.*\/nonexistent\/vmlinuz/s);
      expect(descendants()).toEqual([]);
      expect(leftovers(base)).toEqual([]);
    } finally {
      rmSync(cfgDir, { recursive: true, force: true });
    }
  });

  it('exits 2 for an invalid config, launching nothing', async () => {
    const cfgDir = mkdtempSync('/tmp/vmactor-cfg-');
    try {
      const cfg = join(cfgDir, 'invalid.json');
      writeFileSync(cfg, JSON.stringify({ id: '../escape', hypervisor: { memorySize: 1 } }));
      const r = await vmactor(['run', '--config', cfg]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/Invalid sandbox config/);
      expect(leftovers(base)).toEqual([]);
    } finally {
      rmSync(cfgDir, { recursive: true, force: true });
    }
  });

  it('rejects bad arguments with exit 2 and a usage message', async () => {
    const r = await vmactor(['run', '--for', 'soon']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Expected `--for` to be a number of seconds, got `soon`/);
  });
});
