import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { detectConfigFormat, loadConfigFile, parseConfigText } from '../../src/config/config-file.js';

const OPTS = { hostCpus: 4, hostMemoryMiB: 8192, arch: 'amd64' as const };
const FIXTURE = new URL('../fixtures/kata/configuration-qemu.toml', import.meta.url).pathname;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmactor-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfigFile', () => {
  it('loads a vmactor JSON config', async () => {
    const path = join(dir, 'sb.json');
    await writeFile(
      path,
      JSON.stringify({
        id: 'web-1',
        hypervisor: { kernelPath: '/k', initrdPath: '/i', memorySize: 512 },
        devices: [{ kind: 'rng', id: 'rng0' }],
      }),
    );
    const cfg = await loadConfigFile(path, OPTS);
    expect(cfg.id).toBe('web-1');
    expect(cfg.hypervisor.memorySize).toBe(512);
    expect(cfg.devices).toEqual([{ kind: 'rng', id: 'rng0' }]);
    expect(cfg.source).toEqual({ path, format: 'json' });
    expect(cfg.warnings).toEqual([]);
  });
  it('loads Kata’s TOML, naming the sandbox after the file', async () => {
    const cfg = await loadConfigFile(FIXTURE, OPTS);
    expect(cfg.id).toBe('configuration-qemu');
    expect(cfg.source.format).toBe('kata-toml');
    expect(cfg.hypervisor.sharedFS).toBe('virtio-fs');
    expect(cfg.warnings.length).toBeGreaterThan(10);
  });
  it('uses the id option for a Kata TOML', async () =>
    expect((await loadConfigFile(FIXTURE, { ...OPTS, id: 'sb9' })).id).toBe('sb9'));
  it('detects JSON by content when the extension says nothing', async () => {
    const path = join(dir, 'config');
    await writeFile(path, ' {"id":"a","hypervisor":{"kernelPath":"/k","imagePath":"/img"}}');
    expect((await loadConfigFile(path, OPTS)).source.format).toBe('json');
  });
  it('reports every issue of an invalid JSON config with the file name', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(
      path,
      JSON.stringify({
        id: 'a',
        hypervisor: { memorySize: 100 },
        devices: [{ kind: 'block', id: 'd', file: 'x' }],
      }),
    );
    const e = await rejection(loadConfigFile(path, OPTS));
    expect(e.issues.map((i) => i.path)).toEqual([
      'hypervisor.kernelPath',
      'hypervisor.imagePath',
      'hypervisor.memorySize',
      'devices[0].file',
    ]);
    expect(e.message).toContain(path);
  });
  it('turns malformed JSON into a ConfigError', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, '{"id": ');
    const e = await rejection(loadConfigFile(path, OPTS));
    expect(e.issues[0]?.message).toMatch(/^Expected valid JSON, got /);
  });
  it('turns a missing file into a ConfigError carrying the cause', async () => {
    const e = await rejection(loadConfigFile(join(dir, 'nope.json'), OPTS));
    expect(e.issues[0]?.message).toContain('ENOENT');
    expect((e.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});

describe('detectConfigFormat', () => {
  it('trusts the extension first', () => {
    expect(detectConfigFormat('a.json', 'x = 1')).toBe('json');
    expect(detectConfigFormat('a.toml', '{')).toBe('kata-toml');
  });
  it('reads TOML when the content does not start with a brace', () =>
    expect(detectConfigFormat('cfg', '[hypervisor.qemu]')).toBe('kata-toml'));
});

describe('parseConfigText', () => {
  it('validates without touching the disk', () =>
    expect(
      parseConfigText(
        '{"id":"a","hypervisor":{"kernelPath":"/no/such/k","initrdPath":"/no/such/i"}}',
        'x.json',
        OPTS,
      ).hypervisor.kernelPath,
    ).toBe('/no/such/k'));
});
