// state.json: fixtures of every schema version load (libvirt's qemustatusxml2xmltest style), a future version is
// refused, a corrupt file or an escaping path is a typed error, and writes are atomic (0600, no temp left behind).
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunDirPathError } from '../../src/process/errors.js';
import { attachSandbox } from '../../src/sandbox/attach.js';
import {
  HandleInvalidError,
  StateFileInvalidError,
  StateFileMissingError,
  StateFileVersionError,
  StateWriteError,
} from '../../src/sandbox/state-errors.js';
import {
  needsFsync,
  parseState,
  readStateFile,
  stateSerializer,
  writeStateFile,
  writeStateText,
} from '../../src/sandbox/state-file.js';
import type { SandboxState } from '../../src/sandbox/state-schema.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/state');
const tmp = mkdtempSync('/tmp/vmactor-state-');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function fixture(name: string): { text: string; runDir: string } {
  const text = readFileSync(join(FIXTURES, name), 'utf8');
  return { text, runDir: (JSON.parse(text) as { paths: { runDir: string } }).paths.runDir };
}

describe('state.json fixtures', () => {
  const versioned = readdirSync(FIXTURES).filter((f) => /^v1-.*\.json$/.test(f));

  it('has a fixture for every schema version this code reads', () => {
    expect(versioned.length).toBeGreaterThanOrEqual(2);
  });

  for (const name of versioned) {
    it(`loads ${name} with its QEMU pid, device record and phase`, () => {
      const { text, runDir } = fixture(name);
      const state = parseState(text, runDir);
      expect(state.version).toBe(1);
      expect(state.qemu?.pid).toBeGreaterThan(0);
      expect(state.argvHash).toMatch(/^[0-9a-f]{64}$/);
      expect(state.devices?.devices.map((d) => d.id)).toEqual(['fs0', 'disk1']);
      expect(['running', 'paused']).toContain(state.phase);
      expect(name).toContain(state.phase);
    });
  }

  it('refuses a state file of a future version with a clear typed error', () => {
    const { text, runDir } = fixture('v2-future.json');
    let err: unknown;
    try {
      parseState(text, runDir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateFileVersionError);
    expect(err).toMatchObject({ code: 'ERR_STATE_VERSION', version: 2, supported: 1 });
    expect((err as Error).message).toMatch(/newer vmactor/);
  });

  it('refuses a truncated file as not JSON', () => {
    const { text, runDir } = fixture('v1-running.json');
    expect(() => parseState(text.slice(0, text.length / 2), runDir)).toThrow(StateFileInvalidError);
  });

  it('refuses a monitor socket outside the run dir and a run dir that is not the one read', () => {
    const { text, runDir } = fixture('v1-running.json');
    const bad = { ...JSON.parse(text), monitorSocket: '/etc/qmp.sock' };
    expect(() => parseState(JSON.stringify(bad), runDir)).toThrow(/monitorSocket.*stay under the run dir/);
    expect(() => parseState(text, '/tmp/elsewhere')).toThrow(/paths.runDir/);
  });

  it('refuses a field of the wrong type, naming its path', () => {
    const { text, runDir } = fixture('v1-running.json');
    const bad = { ...JSON.parse(text), qemu: { pid: 'x', startTime: 1 } };
    expect(() => parseState(JSON.stringify(bad), runDir)).toThrow(/qemu\.pid/);
  });
});

describe('writeStateFile', () => {
  const { text, runDir: fixtureDir } = fixture('v1-running.json');
  const base = JSON.parse(text) as SandboxState;
  function stateFor(dir: string, seq: number): SandboxState {
    const rebase = (p: string | undefined) => p?.replace(fixtureDir, dir);
    const paths = Object.fromEntries(Object.entries(base.paths).map(([k, v]) => [k, rebase(v)]));
    return {
      ...base,
      seq,
      paths: paths as SandboxState['paths'],
      monitorSocket: rebase(base.monitorSocket) ?? '',
    };
  }

  it('writes a 0600 file by rename, leaves no temp file, and reads back equal', () => {
    const dir = join(tmp, 'a');
    mkdirSync(dir, { mode: 0o700 });
    expect(writeStateFile(dir, stateFor(dir, 1))).toBe(true);
    expect(writeStateFile(dir, stateFor(dir, 2))).toBe(true);
    expect(readdirSync(dir)).toEqual(['state.json']);
    expect(statSync(join(dir, 'state.json')).mode & 0o777).toBe(0o600);
    expect(readStateFile(dir)).toEqual(stateFor(dir, 2));
  });

  it('keeps the previous file intact when a write fails, with a StateWriteError', () => {
    const dir = join(tmp, 'b');
    mkdirSync(dir, { mode: 0o700 });
    writeStateFile(dir, stateFor(dir, 1));
    // The temp file's name taken by a directory: the open fails (as on a read-only or full filesystem).
    mkdirSync(join(dir, '.state.json.tmp'));
    expect(() => writeStateFile(dir, stateFor(dir, 2))).toThrow(StateWriteError);
    expect(readStateFile(dir).seq).toBe(1);
  });

  it('reports a run dir that does not exist (not created yet, or removed at stop) as nothing written', () => {
    expect(writeStateFile(join(tmp, 'missing'), stateFor(join(tmp, 'missing'), 1))).toBe(false);
    expect(() => readStateFile(join(tmp, 'missing'))).toThrow(StateFileMissingError);
  });

  it('stateSerializer writes the text JSON.stringify(state, null, 1) does, its fixed fields serialized once', () => {
    const dir = join(tmp, 'd');
    mkdirSync(dir, { mode: 0o700 });
    const serialize = stateSerializer(new Set(['config', 'argv', 'paths']));
    const first = stateFor(dir, 1);
    expect(serialize(first)).toBe(`${JSON.stringify(first, null, 1)}\n`);
    const second = { ...stateFor(dir, 2), phase: 'paused' as const, operation: null };
    expect(serialize(second)).toBe(`${JSON.stringify(second, null, 1)}\n`);
    expect(writeStateText(dir, serialize(second))).toBe(true);
    expect(readStateFile(dir)).toEqual(second);
    // A fixed field is the first call's, by contract the same for the sandbox's life.
    expect(JSON.parse(serialize({ ...second, argv: ['changed'] })).argv).toEqual(first.argv);
  });

  it('stateSerializer serializes an immutable field again only when it is another object', () => {
    const dir = join(tmp, 'i');
    mkdirSync(dir, { mode: 0o700 });
    const serialize = stateSerializer(new Set(), new Set(['devices']));
    const devices = structuredClone(base.devices) as NonNullable<SandboxState['devices']>;
    const state: SandboxState = { ...stateFor(dir, 1), devices };
    const text = serialize(state);
    expect(text).toBe(`${JSON.stringify(state, null, 1)}\n`);
    // The same object: its first text, even if someone broke the contract and changed it in place.
    devices.hotpluggedMemoryMiB += 128;
    expect(serialize(state)).toBe(text);
    const replaced: SandboxState = { ...state, devices: { ...devices, hotpluggedMemoryMiB: 256 } };
    expect(serialize(replaced)).toBe(`${JSON.stringify(replaced, null, 1)}\n`);
  });

  it('needsFsync: not on tmpfs (nothing there survives a power loss), yes on a disk or when unsure', () => {
    expect(needsFsync('/dev/shm')).toBe(false);
    expect(statfsSync(tmp).type).not.toBe(0x01021994);
    expect(needsFsync(tmp)).toBe(true);
    expect(needsFsync(join(tmp, 'missing'))).toBe(true);
    const dir = mkdtempSync('/dev/shm/vmactor-state-');
    try {
      expect(writeStateText(dir, '{}\n', { fsync: false })).toBe(true);
      expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe('{}\n');
      expect(readdirSync(dir)).toEqual(['state.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file that is not JSON at all', () => {
    const dir = join(tmp, 'c');
    mkdirSync(dir);
    writeFileSync(join(dir, 'state.json'), '{"schema":');
    expect(() => readStateFile(dir)).toThrow(/not JSON/);
  });
});

describe('attachSandbox refuses bad input before touching anything', () => {
  it('a run dir whose name is not a sandbox id is a RunDirPathError', async () => {
    await expect(attachSandbox('/tmp/not a valid id!')).rejects.toBeInstanceOf(RunDirPathError);
  });

  it('a handle of the wrong shape is a HandleInvalidError naming the field', async () => {
    await expect(attachSandbox({ kind: 'nope' } as never)).rejects.toBeInstanceOf(HandleInvalidError);
    await expect(attachSandbox('{"kind":"vmactor.sandbox-handle","version":9}')).rejects.toThrow(/version/);
  });

  it('a run dir that does not exist is a StateFileMissingError (nothing is killed or removed)', async () => {
    await expect(attachSandbox(join(tmp, 'no-such-sandbox'))).rejects.toBeInstanceOf(StateFileMissingError);
  });

  it('a run dir with a state file of a future version is refused and left as it is', async () => {
    const { text } = fixture('v2-future.json');
    const dir = join(tmp, 'fixture-paused');
    mkdirSync(dir, { mode: 0o700 });
    const future = JSON.parse(text) as { paths: Record<string, string> };
    writeFileSync(
      join(dir, 'state.json'),
      JSON.stringify({ ...future, paths: { ...future.paths, runDir: dir } }),
    );
    await expect(attachSandbox(dir)).rejects.toBeInstanceOf(StateFileVersionError);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });
});
