import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { watch } from 'node:fs';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { guestQemuArgs, listenGuestAgent } from '../../src/guest/agent-channel.js';
import { GuestAgentClient } from '../../src/guest/agent-client.js';
import { readGuestManifest } from '../../src/guest/build.js';
import { guestKernelCmdline } from '../../src/guest/cmdline.js';
import { GuestAgentReplyError } from '../../src/guest/errors.js';
import { probeAcceleratorDetails } from '../../src/guest/kvm-probe.js';
import { descendants } from '../helpers/census.js';
import { guest, QEMU, VIRTIOFSD } from '../helpers/env.js';
import { boot, children, cleanupGuests, clients, listeners, tempDir, withDeadline } from './guest-harness.js';

/** Resolves when the serial console file holds `line` (fs.watch, i.e. inotify; no polling), or rejects at the deadline. */
function consoleLine(file: string, line: string, deadlineMs: number): Promise<string> {
  // The console is a tty (CRLF) with firmware escape sequences: compare plain lines.
  const has = async () =>
    (await readFile(file, 'utf8'))
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escapes
      .replace(/\x1b(\[[0-9;?]*[A-Za-z]|c)/g, '')
      .split(/\r?\n/)
      .includes(line);
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      watcher.close();
      if (err) reject(err);
      else resolve(line);
    };
    const check = () => {
      has().then((ok) => ok && done(), done);
    };
    const watcher = watch(file, check);
    const timer = setTimeout(
      () => done(new Error(`${file} lacks \`${line}\` after ${deadlineMs} ms`)),
      deadlineMs,
    );
    check();
  });
}

afterEach(cleanupGuests);

describe('the cloud default guest under TCG', () => {
  it('prints its ready line, reports CPUs, memory, disks and NICs, writes a disk the host can read, and powers off', async () => {
    const dir = await tempDir();
    const disk = join(dir, 'disk.img');
    await writeFile(disk, Buffer.alloc(8 * 1024 * 1024));
    const vm = await boot(
      dir,
      'cloud',
      [
        '-drive',
        `file=${disk},if=none,id=d0,format=raw`,
        '-device',
        'virtio-blk-pci,drive=d0,serial=vmactor-disk0',
        '-netdev',
        'user,id=n0',
        '-device',
        'virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile=',
      ],
      ['-m', '512'],
      ['-smp', '2'],
    );
    const { release } = await vm.client.waitReady({ timeout: 45_000 });
    const manifest = await readGuestManifest('cloud');
    expect(release).toBe(manifest?.kernelRelease);
    // The UART drains after the virtio port, so the console line may land a moment later: watch the file.
    expect(await consoleLine(vm.consoleFile, `VMACTOR-GUEST-READY ${release}`, 10_000)).toBe(
      `VMACTOR-GUEST-READY ${release}`,
    );

    expect(await vm.client.request('ping', [])).toEqual({ pong: true, release });
    expect(await vm.client.request('cpus', [])).toMatchObject({ online: 2, onlineList: '0-1' });
    const mem = await vm.client.request('mem', []);
    expect(mem.memTotalKiB).toBeGreaterThan(400 * 1024);
    expect(mem.memTotalKiB).toBeLessThanOrEqual(512 * 1024);
    expect(mem.blocksOffline).toBe(0);
    expect(await vm.client.request('blk', [])).toEqual([
      { name: 'vda', sizeBytes: 8 * 1024 * 1024, serial: 'vmactor-disk0', readOnly: false },
    ]);
    const nics = await vm.client.request('net', []);
    expect(nics).toEqual(expect.arrayContaining([expect.objectContaining({ mac: '52:54:00:12:34:56' })]));

    const text = 'hello from the guest disk';
    expect(await vm.client.request('write-block', ['vda', text])).toEqual({ written: text.length });
    expect((await readFile(disk)).subarray(0, text.length).toString()).toBe(text);
    const back = await vm.client.request('read-block', ['/dev/vda', text.length]);
    expect(Buffer.from(back.base64, 'base64').toString()).toBe(text);

    const t1 = await vm.client.request('ticks', []);
    const t2 = await vm.client.request('ticks', []);
    expect(t2.uptime).toBeGreaterThanOrEqual(t1.uptime);
    expect(t2.requests).toBe(t1.requests + 1);

    const missing = await vm.client.request('read', ['/no/such/file']).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(GuestAgentReplyError);
    await expect(vm.client.request('write-block', ['nosuchdisk', 'x'])).rejects.toThrow(/not a block device/);

    await vm.client.request('poweroff', []).catch(() => undefined);
    expect(await withDeadline(vm.exit, 15_000, 'QEMU exit after poweroff')).toEqual({
      code: 0,
      signal: null,
    });
  });

  it('mounts a virtiofs share from a real virtiofsd and reads a file the host wrote', async () => {
    const dir = await tempDir();
    const share = join(dir, 'share');
    await mkdir(share);
    await writeFile(join(share, 'hello.txt'), 'written by the host for virtiofs\n');
    const sock = join(dir, 'vfs.sock');
    const virtiofsd = spawn(VIRTIOFSD as string, [`--socket-path=${sock}`, '-o', `source=${share}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      shell: false,
    });
    children.push(virtiofsd);
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        let err = '';
        virtiofsd.stderr?.setEncoding('utf8').on('data', (d: string) => {
          err += d;
          if (err.includes('Waiting for vhost-user socket connection')) resolve();
        });
        virtiofsd.once('exit', (code) => reject(new Error(`virtiofsd exited ${code}: ${err}`)));
      }),
      10_000,
      'virtiofsd listening',
    );
    const vm = await boot(
      dir,
      'cloud',
      ['-chardev', `socket,id=vfs0,path=${sock}`, '-device', 'vhost-user-fs-pci,chardev=vfs0,tag=hostshare'],
      ['-m', '512', '-object', 'memory-backend-memfd,id=mem,size=512M,share=on', '-numa', 'node,memdev=mem'],
    );
    await vm.client.waitReady({ timeout: 45_000 });
    await expect(vm.client.request('mount', ['virtiofs', 'nosuchtag', '/mnt/none'])).rejects.toThrow(
      /mount failed: .+/,
    );
    expect(await vm.client.request('mount', ['virtiofs', 'hostshare', '/mnt/host'])).toEqual({
      mounted: '/mnt/host',
    });
    expect((await vm.client.readFile('/mnt/host/hello.txt')).toString()).toBe(
      'written by the host for virtiofs\n',
    );
  });
});

/** A minimal QMP exchange over a socket QEMU connected to (enough to hotplug in a test). */
async function qmp(socket: Socket) {
  const lines: unknown[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  socket.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  const next = async (pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    for (;;) {
      const i = lines.findIndex((m) => pred(m as Record<string, unknown>));
      if (i >= 0) return lines.splice(i, 1)[0] as Record<string, unknown>;
      await withDeadline(new Promise<void>((r) => waiters.push(r)), 10_000, 'QMP reply');
    }
  };
  await next((m) => 'QMP' in m);
  let id = 0;
  const execute = async (command: string, args?: Record<string, unknown>) => {
    const myId = `t${++id}`;
    socket.write(`${JSON.stringify({ execute: command, arguments: args, id: myId })}\n`);
    const reply = await next((m) => m.id === myId);
    if ('error' in reply) throw new Error(`${command}: ${JSON.stringify(reply.error)}`);
    return reply.return;
  };
  await execute('qmp_capabilities');
  const event = (name: string) => next((m) => m.event === name);
  return { execute, event };
}

describe('hotplug and panics seen from inside the cloud guest', () => {
  it('onlines a hot-added CPU on request, sees hot-added memory online, and reports a panic through pvpanic', async () => {
    const dir = await tempDir();
    const qmpListener = await listenGuestAgent(join(dir, 'qmp.sock'));
    listeners.push(qmpListener);
    const vm = await boot(
      dir,
      'cloud',
      [
        '-chardev',
        `socket,id=qmp0,path=${qmpListener.path}`,
        '-mon',
        'chardev=qmp0,mode=control',
        '-device',
        'pvpanic-pci',
      ],
      ['-m', '512,slots=2,maxmem=1G'],
      ['-smp', '1,sockets=2,cores=1,threads=1,maxcpus=2'],
    );
    const monitor = await qmp(await qmpListener.accept({ timeout: 15_000 }));
    await vm.client.waitReady({ timeout: 45_000 });
    expect(await vm.client.request('cpus', [])).toMatchObject({
      online: 1,
      presentList: '0',
      possibleList: '0-1',
    });
    const before = await vm.client.request('mem', []);

    await monitor.execute('device_add', {
      driver: 'qemu64-x86_64-cpu',
      id: 'cpu1',
      'socket-id': 1,
      'core-id': 0,
      'thread-id': 0,
    });
    expect(await vm.client.request('online-cpus', [2])).toMatchObject({ online: 2, onlineList: '0-1' });

    await monitor.execute('object-add', {
      'qom-type': 'memory-backend-ram',
      id: 'mem1',
      size: 256 * 1024 * 1024,
    });
    await monitor.execute('device_add', { driver: 'pc-dimm', id: 'dimm1', memdev: 'mem1' });
    const after = await vm.client.request('online-mem', [before.memTotalKiB + 200 * 1024]);
    expect(after.memTotalKiB).toBeGreaterThanOrEqual(before.memTotalKiB + 200 * 1024);
    expect(after.blocksOffline).toBe(0);

    const panicked = monitor.event('GUEST_PANICKED');
    await vm.client.request('panic', []).catch(() => undefined);
    expect(await panicked).toMatchObject({ event: 'GUEST_PANICKED' });
  });
});

describe('an agent channel QEMU listens on', () => {
  it('lets a host reconnect to the agent channel and talk to the guest again', async () => {
    const dir = await tempDir();
    const agentPath = join(dir, 'agent-server.sock');
    // QEMU creates chardevs in command-line order: once it has connected to our QMP listener,
    // the agent socket it serves (listed first) is already listening.
    const qmpListener = await listenGuestAgent(join(dir, 'qmp.sock'));
    listeners.push(qmpListener);
    const stderr = await open(join(dir, 'qemu.stderr'), 'w');
    const qemu = spawn(
      QEMU as string,
      [
        '-machine',
        'q35,accel=tcg',
        '-m',
        '512',
        '-nographic',
        '-nodefaults',
        '-no-user-config',
        ...guestQemuArgs({
          flavour: 'cloud',
          consoleFile: join(dir, 'console.log'),
          agent: { listen: agentPath },
        }),
        '-chardev',
        `socket,id=qmp0,path=${qmpListener.path}`,
        '-mon',
        'chardev=qmp0,mode=control',
      ],
      { stdio: ['ignore', 'ignore', stderr.fd], shell: false },
    );
    await stderr.close();
    children.push(qemu);
    (await qmpListener.accept({ timeout: 15_000 })).resume();

    for (const round of [1, 2, 3]) {
      const socket = createConnection(agentPath);
      await once(socket, 'connect');
      const client = new GuestAgentClient(socket);
      clients.push(client);
      const { release } = await client.waitReady({ timeout: 45_000 });
      expect(await client.request('ping', [])).toEqual({ pong: true, release });
      expect((await client.request('ticks', [])).requests).toBeGreaterThanOrEqual(round * 2);
      client.close();
    }
  });
});

describe('a guest without virtio-serial', () => {
  it('serves the agent protocol on a second serial port (ttyS1) instead', async () => {
    const dir = await tempDir();
    const listener = await listenGuestAgent(join(dir, 'ttyS1.sock'));
    listeners.push(listener);
    const { kernel, initrd } = guest('cloud') as { kernel: string; initrd: string };
    const stderr = await open(join(dir, 'qemu.stderr'), 'w');
    const qemu = spawn(
      QEMU as string,
      [
        '-machine',
        'q35,accel=tcg',
        '-m',
        '512',
        '-nographic',
        '-nodefaults',
        '-no-user-config',
        '-kernel',
        kernel,
        '-initrd',
        initrd,
        '-append',
        guestKernelCmdline(),
        '-chardev',
        `file,id=con0,path=${join(dir, 'console.log')}`,
        '-serial',
        'chardev:con0',
        '-chardev',
        `socket,id=tty1,path=${listener.path}`,
        '-serial',
        'chardev:tty1',
      ],
      { stdio: ['ignore', 'ignore', stderr.fd], shell: false },
    );
    await stderr.close();
    children.push(qemu);
    const client = new GuestAgentClient(await listener.accept({ timeout: 15_000 }));
    clients.push(client);
    const { release } = await client.waitReady({ timeout: 45_000, ping: false });
    expect(await client.request('ping', [])).toEqual({ pong: true, release });
    expect(await client.request('cpus', [])).toMatchObject({ online: 1 });
  });
});

describe('the generic default guest under TCG', () => {
  it('mounts a 9p share and reads a file the host wrote', async () => {
    const dir = await tempDir();
    const share = join(dir, 'share9p');
    await mkdir(share);
    await writeFile(join(share, 'note.txt'), 'written by the host for 9p\n');
    const vm = await boot(dir, 'generic', [
      '-fsdev',
      `local,id=fs0,path=${share},security_model=none`,
      '-device',
      'virtio-9p-pci,fsdev=fs0,mount_tag=hostshare9p',
    ]);
    await vm.client.waitReady({ timeout: 45_000 });
    expect(await vm.client.request('mount', ['9p', 'hostshare9p', '/mnt/9p'])).toEqual({
      mounted: '/mnt/9p',
    });
    expect((await vm.client.readFile('/mnt/9p/note.txt')).toString()).toBe('written by the host for 9p\n');
  });
});

describe('the accelerator probe', () => {
  it('reaches a verdict within its deadline and leaves no QEMU process behind', async () => {
    const before = new Set(descendants());
    const probe = await probeAcceleratorDetails({ fresh: true, deadlineMs: 5000, qemu: QEMU as string });
    expect(['kvm', 'tcg']).toContain(probe.accel);
    expect(probe.reason.length).toBeGreaterThan(0);
    expect(descendants().filter((p) => !before.has(p))).toEqual([]);
  });

  it('recognises a booting Linux kernel (exercised under TCG)', async () => {
    const probe = await probeAcceleratorDetails({
      probeAccel: 'tcg',
      cpu: 'max',
      qemu: QEMU as string,
      deadlineMs: 20_000,
    });
    expect(probe).toMatchObject({ accel: 'tcg', reason: expect.stringContaining('booted') });
  });
});
