// Run dirs: base dir choice, mode 0700, exclusive creation, path containment, socket length limits.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunDirError, RunDirPathError } from '../../src/process/errors.js';
import {
  assertSocketPath,
  assertUnder,
  createRunDir,
  defaultRunBase,
  removeRunDir,
  runDirFor,
} from '../../src/process/run-dir.js';

const root = mkdtempSync('/tmp/vmactor-rundir-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('run dirs', () => {
  it('choose $VMACTOR_RUN_DIR, else /run/vmactor for root, else $XDG_RUNTIME_DIR/vmactor, else a tmp dir', () => {
    expect(defaultRunBase({ VMACTOR_RUN_DIR: '/srv/vm' }, 0)).toBe('/srv/vm');
    expect(defaultRunBase({}, 0)).toBe('/run/vmactor');
    expect(defaultRunBase({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000)).toBe('/run/user/1000/vmactor');
    expect(defaultRunBase({}, 1000)).toMatch(/vmactor-1000$/);
  });

  it('are created with mode 0700 (the base too) and refuse to reuse an existing dir', async () => {
    const dir = runDirFor(join(root, 'base'), 'sb1');
    await createRunDir(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'base')).mode & 0o777).toBe(0o700);
    await expect(createRunDir(dir)).rejects.toBeInstanceOf(RunDirError);
    await removeRunDir(dir);
    await removeRunDir(dir);
  });

  it('reject sandbox ids that could escape the base dir', () => {
    for (const id of ['..', '../x', 'a/b', '', '.hidden', `x${'y'.repeat(64)}`]) {
      expect(() => runDirFor(root, id)).toThrow(RunDirPathError);
    }
    expect(runDirFor(root, 'ok-1.2_3')).toBe(join(root, 'ok-1.2_3'));
  });

  it('keep every derived path under the run dir', () => {
    expect(assertUnder('/run/vmactor/sb1', 'qmp.sock')).toBe('/run/vmactor/sb1/qmp.sock');
    expect(assertUnder('/run/vmactor/sb1', '/run/vmactor/sb1/x/y')).toBe('/run/vmactor/sb1/x/y');
    for (const p of ['../sb2/qmp.sock', '/etc/passwd', '/run/vmactor/sb1', '/run/vmactor/sb10/x']) {
      expect(() => assertUnder('/run/vmactor/sb1', p)).toThrow(RunDirPathError);
    }
  });

  it('refuse Unix socket paths longer than 107 bytes', () => {
    expect(assertSocketPath(`/${'a'.repeat(106)}`)).toHaveLength(107);
    expect(() => assertSocketPath(`/${'a'.repeat(107)}`)).toThrow(/at most 107 bytes, got 108/);
    // Bytes, not characters.
    expect(() => assertSocketPath(`/${'é'.repeat(54)}`)).toThrow(RunDirPathError);
  });
});
