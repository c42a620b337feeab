import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { formatCommand, shellQuote } from '../../src/cli/plan.js';
import { guestArtifacts } from '../../src/guest/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'vmactor-plan-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    out += String(c);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    err += String(c);
    return true;
  });
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

const goodJson = () =>
  file(
    'good.json',
    JSON.stringify({
      id: 'cli1',
      hypervisor: { kernelPath: '/k/vmlinuz', initrdPath: '/k/initrd.img', memorySize: 512 },
      devices: [{ kind: 'block', id: 'disk0', file: '/srv/disk, 1.img', driver: 'virtio-blk' }],
    }),
  );

describe('vmactor plan', () => {
  it('prints the whole plan as JSON with argv[0] the QEMU binary', async () => {
    const r = await run(['plan', '--config', goodJson(), '--json', '--run-dir', '/run/vmactor/cli1']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.out) as { argv: string[]; paths: { qmpSocket: string } };
    expect(plan.argv[0]).toBe('qemu-system-x86_64');
    expect(plan.argv).toContain('-kernel');
    expect(plan.argv).toContain('/k/vmlinuz');
    const node = plan.argv[plan.argv.indexOf('-blockdev') + 1] as string;
    expect(JSON.parse(node)).toMatchObject({
      'node-name': 'drive-disk0',
      file: { filename: '/srv/disk, 1.img' },
    });
    expect(plan.paths.qmpSocket).toBe('/run/vmactor/cli1/qmp.sock');
  });

  it('prints a shell-quoted command line by default', async () => {
    const r = await run(['plan', '--config', goodJson(), '--run-dir', '/run/vmactor/cli1']);
    expect(r.code).toBe(0);
    expect(r.out.startsWith('qemu-system-x86_64 \\\n  -name sandbox-cli1 \\\n')).toBe(true);
    expect(r.out).toContain(
      `-blockdev '{"driver":"raw","node-name":"drive-disk0","read-only":false,"file":{"driver":"file","filename":"/srv/disk, 1.img","aio":"threads"}}'`,
    );
  });

  it('plans for another arch with --arch', async () => {
    const cfg = file(
      'noarch.json',
      JSON.stringify({ id: 'cli2', hypervisor: { kernelPath: '/k', initrdPath: '/i' } }),
    );
    const r = await run(['plan', '--config', cfg, '--json', '--arch', 's390x']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { argv: string[] }).argv[0]).toBe('qemu-system-s390x');
  });

  it('reads a Kata configuration-qemu.toml', async () => {
    const toml = file(
      'configuration-qemu.toml',
      [
        '[hypervisor.qemu]',
        'path = "/usr/bin/qemu-system-x86_64"',
        'kernel = "/usr/share/kata-containers/vmlinux.container"',
        'initrd = "/usr/share/kata-containers/kata-containers-initrd.img"',
        'machine_type = "q35"',
        'default_vcpus = 1',
        'default_memory = 1024',
        'default_bridges = 2',
        'shared_fs = "virtio-9p"',
        'block_device_driver = "virtio-blk"',
        '',
      ].join('\n'),
    );
    const r = await run(['plan', '--config', toml, '--json', '--run-dir', '/run/vmactor/kata']);
    expect(r.code).toBe(0);
    const argv = (JSON.parse(r.out) as { argv: string[] }).argv;
    expect(argv[0]).toBe('/usr/bin/qemu-system-x86_64');
    expect(argv[argv.indexOf('-m') + 1]).toMatch(/^1024M,slots=10,maxmem=\d+M$/);
    expect(argv.filter((a) => a.startsWith('{"driver":"pci-bridge",'))).toHaveLength(2);
    expect(argv.some((a) => a.includes('"driver":"virtio-scsi-pci"'))).toBe(false);
  });

  it("plans Kata's own template with the default guest when Kata's kernel and image are not on this host", async () => {
    const toml = new URL('../fixtures/kata/configuration-qemu.toml', import.meta.url).pathname;
    const r = await run(['plan', '--config', toml, '--json']);
    expect(r.code).toBe(0);
    const argv = (JSON.parse(r.out) as { argv: string[] }).argv;
    const guest = guestArtifacts();
    expect(argv[argv.indexOf('-kernel') + 1]).toBe(guest.kernel);
    expect(argv[argv.indexOf('-initrd') + 1]).toBe(guest.initrd);
    expect(argv.some((a) => a.includes('kata-containers.img'))).toBe(false);
    expect(r.err).toMatch(/kata-containers\.img not found on this host: planning with the default guest/);
  });

  it('exits 2 and lists every problem of an invalid config on stderr, printing nothing', async () => {
    const bad = file('bad.json', JSON.stringify({ id: '../x', hypervisor: { memorySize: 12 } }));
    const r = await run(['plan', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain('id:');
    expect(r.err).toContain('hypervisor.memorySize:');
  });

  it('exits 2 without --config and on an unknown option', async () => {
    expect((await run(['plan'])).code).toBe(2);
    expect((await run(['plan', '--config', goodJson(), '--bogus'])).code).toBe(2);
  });

  it('runs from source through tsx as `vmactor plan`', async () => {
    const { stdout } = await promisify(execFile)(
      'npx',
      ['tsx', 'src/cli/main.ts', 'plan', '--config', goodJson(), '--json'],
      {
        cwd: join(import.meta.dirname, '../..'),
      },
    );
    expect((JSON.parse(stdout) as { argv: string[] }).argv[0]).toBe('qemu-system-x86_64');
  });
});

describe('display quoting', () => {
  it('quotes only what a shell would split or expand', () => {
    expect(shellQuote('q35,accel=tcg')).toBe('q35,accel=tcg');
    expect(shellQuote("it's a b")).toBe(`'it'\\''s a b'`);
    expect(formatCommand(['qemu', '-S', '-m', '1G'])).toBe('qemu \\\n  -S \\\n  -m 1G\n');
  });
});
