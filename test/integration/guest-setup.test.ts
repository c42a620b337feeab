import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { readGuestManifest, setupGuest } from '../../src/guest/build.js';
import { guestArtifacts } from '../../src/guest/paths.js';
import { hostBinary } from '../helpers/env.js';

// Prerequisites of `vmactor setup` (throw when missing).
hostBinary('apt-get');
hostBinary('/bin/busybox');
const dirs: string[] = [];

async function cacheDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'vmactor-cache-'));
  dirs.push(d);
  return d;
}

afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('vmactor setup', () => {
  it('builds the cloud guest once, then reports it up to date, and rebuilds a tampered initrd', async () => {
    const dir = await cacheDir();
    const progress: string[] = [];
    const [first] = await setupGuest({
      flavours: ['cloud'],
      cacheDir: dir,
      onProgress: (l) => progress.push(l),
    });
    expect(first?.status).toBe('built');
    expect(progress.some((l) => l.includes('downloading linux-image-'))).toBe(true);
    const manifest = await readGuestManifest('cloud', dir);
    expect(manifest?.kernelRelease).toMatch(/-cloud-amd64$/);
    expect(manifest?.modules.loaded).toEqual(
      expect.arrayContaining(['virtio_console', 'virtiofs', 'virtio_blk']),
    );
    expect(manifest?.modules.absent).not.toContain('virtio_console');
    const loaded = manifest?.modules.loaded ?? [];
    expect(loaded.indexOf('virtio_ring')).toBeLessThan(loaded.indexOf('virtio_console'));

    const [second] = await setupGuest({ flavours: ['cloud'], cacheDir: dir });
    expect(second?.status).toBe('up-to-date');

    const { initrd } = guestArtifacts('cloud', dir);
    await writeFile(initrd, Buffer.concat([await readFile(initrd), Buffer.from('x')]));
    const [third] = await setupGuest({ flavours: ['cloud'], cacheDir: dir });
    expect(third?.status).toBe('built');
    expect((await readGuestManifest('cloud', dir))?.initrd.sha256).toBe(manifest?.initrd.sha256);
  }, 240_000); // two real builds (download, dpkg -x, initrd); slow on a loaded host

  it('reports a missing guest and exits non-zero from `vmactor setup --check --cache-dir`', async () => {
    const dir = await cacheDir();
    const r = await execa('npx', ['tsx', 'src/cli/main.ts', 'setup', '--check', '--cache-dir', dir], {
      reject: false,
      env: { VMACTOR_ACCEL: 'tcg' },
    });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('guest cloud: not built (run `vmactor setup`)');
    expect(r.stdout).toMatch(/^qemu: QEMU emulator version /m);
    expect(r.stdout).toContain('accelerator: tcg (VMACTOR_ACCEL=tcg');
  });

  it('names every missing prerequisite and exits 1 without touching the cache', async () => {
    const dir = await cacheDir();
    const r = await execa(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'setup', '--cache-dir', dir],
      {
        reject: false,
        extendEnv: false,
        env: { PATH: '/nonexistent', HOME: process.env.HOME ?? '/root' },
      },
    );
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Missing prerequisites for the default guest');
    for (const tool of ['apt-get', 'apt-cache', 'dpkg', 'dpkg-deb'])
      expect(r.stderr).toContain(`  - ${tool}: `);
    expect(await readdir(dir)).toEqual([]);
  });

  it('rejects an unknown flavour with a usage error before doing anything', async () => {
    const r = await execa('npx', ['tsx', 'src/cli/main.ts', 'setup', '--flavour', 'tiny'], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('Expected `--flavour` to be cloud, generic or all, got `tiny`');
  });
});
