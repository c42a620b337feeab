import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { guestKernelCmdline } from '../../src/guest/cmdline.js';
import { kernelMetapackage, parseAptShow, parseMetapackageDepends } from '../../src/guest/debian.js';
import { initScript } from '../../src/guest/init-script.js';
import { writeNewc } from '../../src/guest/newc.js';
import { hostBinary } from '../helpers/env.js';

const CPIO = hostBinary('cpio');
const BUSYBOX = hostBinary('/bin/busybox');

describe('initramfs archive', () => {
  const archive = writeNewc([
    { kind: 'dir', path: 'bin' },
    { kind: 'file', path: 'bin/hello', data: Buffer.from('hi\n'), mode: 0o755 },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    { kind: 'dir', path: 'dev' },
    { kind: 'char', path: 'dev/console', major: 5, minor: 1 },
  ]);

  it('starts with the newc magic, ends with the trailer and is 4-byte aligned', () => {
    expect(archive.subarray(0, 6).toString()).toBe('070701');
    expect(archive.includes(Buffer.from('TRAILER!!!\0'))).toBe(true);
    expect(archive.length % 4).toBe(0);
  });

  it('is byte-for-byte reproducible', () => {
    const again = writeNewc([{ kind: 'dir', path: 'bin' }]);
    expect(again.equals(writeNewc([{ kind: 'dir', path: 'bin' }]))).toBe(true);
  });

  it('is read back by the cpio binary with a console device node and a symlink', () => {
    const listing = execFileSync(CPIO as string, ['-itv', '--quiet'], { input: archive, encoding: 'utf8' });
    expect(listing).toMatch(/^crw-------.*5,\s+1.*dev\/console$/m);
    expect(listing).toMatch(/^lrwxrwxrwx.*bin\/sh -> busybox$/m);
    expect(listing).toMatch(/^-rwxr-xr-x.*bin\/hello$/m);
  });

  it('refuses absolute paths and parent references', () => {
    expect(() => writeNewc([{ kind: 'dir', path: '/etc' }])).toThrow();
    expect(() => writeNewc([{ kind: 'dir', path: 'a/../b' }])).toThrow();
  });
});

describe('Debian package resolution', () => {
  it('picks the versioned cloud kernel out of apt-cache depends output', () => {
    const out = 'linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n';
    expect(parseMetapackageDepends(out, 'cloud')).toBe('linux-image-6.1.0-56-cloud-amd64');
  });

  it('never mistakes a cloud kernel for the generic one', () => {
    const out =
      'linux-image-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n  Depends: linux-image-6.1.0-56-amd64\n';
    expect(parseMetapackageDepends(out, 'generic')).toBe('linux-image-6.1.0-56-amd64');
    expect(parseMetapackageDepends('x\n  Depends: foo\n', 'generic')).toBeUndefined();
  });

  it('reads version and hash from apt-cache show', () => {
    const sha = 'e'.repeat(64);
    expect(parseAptShow(`Package: linux-image-6.1.0-56-amd64\nVersion: 6.1.192-2\nSHA256: ${sha}\n`)).toEqual(
      {
        version: '6.1.192-2',
        sha256: sha,
      },
    );
    expect(parseAptShow('Package: x\n')).toBeUndefined();
  });

  it('maps flavours to their Debian metapackages', () => {
    expect(kernelMetapackage('cloud')).toBe('linux-image-cloud-amd64');
    expect(kernelMetapackage('generic')).toBe('linux-image-amd64');
  });
});

describe('guest init and cmdline', () => {
  it('puts the console on ttyS0 and onlines hot-added memory in-kernel', () => {
    const c = guestKernelCmdline();
    expect(c.split(' ')).toEqual(
      expect.arrayContaining(['console=ttyS0', 'memhp_default_state=online', 'quiet']),
    );
    expect(guestKernelCmdline({ quiet: false, extra: ['foo=1'] })).toMatch(
      /^console=ttyS0 (?!quiet).* foo=1$/,
    );
  });

  it('is a script busybox sh accepts', () => {
    execFileSync(BUSYBOX as string, ['sh', '-n', '-c', initScript()]);
  });

  it('serves the agent channel by name and prints the ready line', () => {
    const s = initScript();
    expect(s).toContain('agent.channel.0');
    expect(s).toContain(`printf '\\n%s %s\\n' VMACTOR-GUEST-READY "$release"`);
    expect(s).toContain('send "VMACTOR-GUEST-READY $release"');
  });
});

describe('setup prerequisites', () => {
  it('names each missing tool with the package that provides it', async () => {
    const { missingPrerequisites } = await import('../../src/guest/prerequisites.js');
    const missing = await missingPrerequisites({ path: '/nonexistent', busybox: '/nonexistent/busybox' });
    expect(missing.map((m) => m.what)).toEqual([
      'apt-get',
      'apt-cache',
      'dpkg',
      'dpkg-deb',
      'busybox at /nonexistent/busybox',
    ]);
    expect(missing.at(-1)?.hint).toContain('busybox-static');
  });

  it('accepts the static busybox and rejects a dynamically linked binary', async () => {
    const { isStaticElf } = await import('../../src/guest/prerequisites.js');
    expect(await isStaticElf(BUSYBOX as string)).toBe(true);
    expect(await isStaticElf(process.execPath)).toBe(false);
  });
});

describe('kernel image choice', () => {
  it('reads =y switches from a kernel config and nothing else', async () => {
    const { kernelConfigEnabled } = await import('../../src/guest/kernel-image.js');
    const config = 'CONFIG_PVH=y\n# CONFIG_KERNEL_XZ is not set\nCONFIG_KERNEL_LZ4=y\nCONFIG_PVH_EXTRA=m\n';
    expect(kernelConfigEnabled(config, 'CONFIG_PVH')).toBe(true);
    expect(kernelConfigEnabled(config, 'CONFIG_KERNEL_XZ')).toBe(false);
    expect(kernelConfigEnabled(config, 'CONFIG_PVH_EXTRA')).toBe(false);
  });

  it('keeps the bzImage for other compressions, without a PVH entry, or without a payload to decompress', async () => {
    const { bootableKernel } = await import('../../src/guest/kernel-image.js');
    const bz = Buffer.from('not really a bzImage');
    expect(await bootableKernel(bz, 'CONFIG_KERNEL_GZIP=y\nCONFIG_PVH=y\n')).toMatchObject({
      format: 'bzImage',
      image: bz,
    });
    expect(await bootableKernel(bz, 'CONFIG_KERNEL_LZ4=y\nCONFIG_PVH=y\n')).toMatchObject({
      format: 'bzImage',
      note: expect.stringMatching(/no lz4 payload|lz4 not installed/),
    });
    expect(await bootableKernel(bz, 'CONFIG_KERNEL_XZ=y\n')).toMatchObject({ format: 'bzImage' });
    expect(await bootableKernel(bz, 'CONFIG_KERNEL_XZ=y\nCONFIG_PVH=y\n')).toMatchObject({
      format: 'bzImage',
      note: expect.stringMatching(/no xz payload|xz not installed/),
    });
  });

  it('accepts only an ELF whose header tables fit inside it', async () => {
    const { isCompleteElf } = await import('../../src/guest/kernel-image.js');
    const { readFile } = await import('node:fs/promises');
    const elf = await readFile(process.execPath);
    expect(isCompleteElf(elf)).toBe(true);
    expect(isCompleteElf(elf.subarray(0, elf.length - 4096))).toBe(false);
    expect(isCompleteElf(Buffer.from('#!/bin/sh\n'))).toBe(false);
  });
});

describe('QEMU wiring of the default guest', () => {
  it('wires the console to a file and the agent port by name, doubling commas in paths', async () => {
    const { guestQemuArgs } = await import('../../src/guest/agent-channel.js');
    const argv = guestQemuArgs({
      cacheDir: '/c',
      consoleFile: '/run/a,b/console.log',
      agent: { path: '/run/a,b/agent.sock' },
    });
    expect(argv.slice(0, 4)).toEqual([
      '-kernel',
      '/c/guest/cloud/vmlinuz',
      '-initrd',
      '/c/guest/cloud/initrd.img',
    ]);
    expect(argv).toContain('file,id=vmactor-console0,path=/run/a,,b/console.log');
    expect(argv).toContain('socket,id=vmactor-agent0,path=/run/a,,b/agent.sock');
    expect(argv).toContain(
      'virtserialport,bus=vmactor-vserial0.0,chardev=vmactor-agent0,name=agent.channel.0',
    );
    expect(argv[argv.indexOf('-append') + 1]).toMatch(/^console=ttyS0 /);
  });

  it('lets QEMU listen on the agent socket or use an inherited fd', async () => {
    const { guestQemuArgs } = await import('../../src/guest/agent-channel.js');
    expect(guestQemuArgs({ consoleFile: '/c.log', agent: { listen: '/s.sock' } })).toContain(
      'socket,id=vmactor-agent0,path=/s.sock,server=on,wait=off',
    );
    expect(guestQemuArgs({ flavour: 'generic', consoleFile: '/c.log', agent: { fd: 4 } })).toContain(
      'socket,id=vmactor-agent0,fd=4',
    );
  });
});
