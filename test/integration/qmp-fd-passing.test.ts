import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QmpClient, QmpCommandError, QmpFdPassingError, socketFd } from '../../src/qmp/index.js';
import { QEMU } from '../helpers/env.js';

// File descriptors travel with the command's own bytes (SCM_RIGHTS) through the native addon,
// on the socketpair the sandbox layer hands over and on a socket connected to a Unix path.

const BASE = ['-S', '-display', 'none', '-nodefaults', '-machine', 'q35,accel=tcg'];
const MONITOR = ['-chardev', 'socket,id=mon0,fd=3', '-mon', 'chardev=mon0,mode=control'];

let children: ChildProcess[] = [];
let fds: number[] = [];
let servers: Server[] = [];
let dir: string;

function launch(extra: string[] = []): ChildProcess {
  const child = spawn(QEMU!, [...BASE, ...extra, ...MONITOR], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

async function connect(extra: string[] = []): Promise<QmpClient> {
  const socket = launch(extra).stdio[3];
  if (!(socket instanceof Socket)) throw new Error('QEMU monitor socket missing');
  return QmpClient.connect(socket);
}

function image(name: string, size = 1024 * 1024): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.alloc(size));
  return path;
}

function open(path: string): number {
  const fd = openSync(path, 'r+');
  fds.push(fd);
  return fd;
}

describe('File descriptor passing to real QEMU', () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vmactor-qmpfd-'));
  });

  afterEach(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        await exited;
      }
    }
    for (const fd of fds) closeSync(fd);
    for (const s of servers) s.close();
    children = [];
    fds = [];
    servers = [];
    rmSync(dir, { recursive: true, force: true });
  });

  it('The monitor socketpair of a spawned QEMU has an OS file descriptor', () => {
    const socket = launch().stdio[3];
    if (!(socket instanceof Socket)) throw new Error('QEMU monitor socket missing');
    expect(socketFd(socket)).toBeGreaterThan(2);
  });

  it('A file opened in Node is added with add-fd and backs a block node opened from /dev/fdset/N', async () => {
    const qmp = await connect(['-device', 'virtio-scsi-pci,id=scsi0']);
    const path = image('disk.img');
    const added = await qmp.execute('add-fd', { 'fdset-id': 3, opaque: 'disk.img' }, { fds: [open(path)] });
    expect(added['fdset-id']).toBe(3);
    expect(added.fd).toBeGreaterThan(2);
    const sets = await qmp.execute('query-fdsets');
    expect(sets).toEqual([{ 'fdset-id': 3, fds: [{ fd: added.fd, opaque: 'disk.img' }] }]);

    await qmp.execute('blockdev-add', {
      driver: 'raw',
      'node-name': 'drive-fd',
      file: { driver: 'file', filename: '/dev/fdset/3' },
    });
    await qmp.execute('device_add', { driver: 'scsi-hd', id: 'disk-fd', drive: 'drive-fd', bus: 'scsi0.0' });
    const nodes = await qmp.execute('query-named-block-nodes');
    expect(nodes.find((n) => n['node-name'] === 'drive-fd')).toMatchObject({
      file: '/dev/fdset/3',
      drv: 'raw',
    });
    const block = await qmp.execute('query-block');
    expect(block.find((b) => b.qdev?.includes('disk-fd'))?.inserted).toMatchObject({
      file: '/dev/fdset/3',
      'node-name': 'drive-fd',
    });
  });

  it('A block node on /dev/fdset/N fails with a typed error when no fd was passed', async () => {
    const qmp = await connect();
    await expect(
      qmp.execute('blockdev-add', {
        driver: 'raw',
        'node-name': 'd',
        file: { driver: 'file', filename: '/dev/fdset/9' },
      }),
    ).rejects.toBeInstanceOf(QmpCommandError);
  });

  it('getfd gives QEMU a named socket fd that a chardev then owns', async () => {
    const qmp = await connect();
    const path = join(dir, 'peer.sock');
    const server = createServer();
    servers.push(server);
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const client = new Socket();
    await new Promise<void>((resolve) => client.connect(path, resolve));
    const peer = await accepted;

    await qmp.execute('getfd', { fdname: 'peerfd' }, { fds: [socketFd(client)] });
    // Our copy is closed now; the connection stays up only because QEMU holds its own copy.
    client.destroy();
    await qmp.execute('chardev-add', {
      id: 'byfd',
      backend: { type: 'socket', data: { addr: { type: 'fd', data: { str: 'peerfd' } }, server: false } },
    });
    const ended = new Promise<void>((resolve) => peer.once('end', resolve));
    peer.resume();
    expect((await qmp.execute('query-chardev')).some((c) => c.label === 'byfd')).toBe(true);
    // Removing the chardev closes QEMU's copy: the peer sees EOF, proving QEMU used the fd.
    await qmp.execute('chardev-remove', { id: 'byfd' });
    await ended;
    peer.destroy();
  });

  it('closefd of a name QEMU never received is a typed error', async () => {
    const qmp = await connect();
    await expect(qmp.execute('closefd', { fdname: 'never-sent' })).rejects.toMatchObject({
      code: 'ERR_QMP_COMMAND',
      command: 'closefd',
    });
  });

  it('fds are passed over a socket connected to a Unix path too', async () => {
    const path = join(dir, 'qmp.sock');
    const first = await connect(['-qmp', `unix:${path},server=on,wait=off`]);
    const qmp = await QmpClient.connectUnix(path);
    const added = await qmp.execute('add-fd', { 'fdset-id': 1 }, { fds: [open(image('b.img'))] });
    expect(added['fdset-id']).toBe(1);
    await qmp.execute('blockdev-add', {
      driver: 'raw',
      'node-name': 'via-path',
      file: { driver: 'file', filename: '/dev/fdset/1' },
    });
    const nodes = await first.execute('query-named-block-nodes');
    expect(nodes.some((n) => n['node-name'] === 'via-path')).toBe(true);
    qmp.close();
  });

  it('fd-carrying commands interleaved with hundreds of plain commands each get their own fd', async () => {
    const qmp = await connect();
    // Distinct sizes: the block node's virtual size proves which file each fd set received.
    const paths = Array.from({ length: 8 }, (_, i) => image(`d${i}.img`, 4096 * (i + 1)));
    const work: Promise<unknown>[] = [];
    const adds: Promise<{ 'fdset-id': number; fd: number }>[] = [];
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 50; j++) work.push(qmp.execute('query-status'));
      adds.push(qmp.execute('add-fd', { 'fdset-id': 10 + i, opaque: `d${i}` }, { fds: [open(paths[i]!)] }));
    }
    await Promise.all(work);
    const results = await Promise.all(adds);
    expect(results.map((r) => r['fdset-id'])).toEqual([10, 11, 12, 13, 14, 15, 16, 17]);
    const sets = await qmp.execute('query-fdsets');
    sets.sort((a, b) => a['fdset-id'] - b['fdset-id']);
    expect(sets.map((s) => [s['fdset-id'], s.fds.map((f) => f.opaque)])).toEqual(
      Array.from({ length: 8 }, (_, i) => [10 + i, [`d${i}`]]),
    );
    for (let i = 0; i < 8; i++) {
      await qmp.execute('blockdev-add', {
        driver: 'raw',
        'node-name': `n${i}`,
        file: { driver: 'file', filename: `/dev/fdset/${10 + i}` },
      });
    }
    const nodes = await qmp.execute('query-named-block-nodes');
    const sizes = nodes
      .filter((n) => n.drv === 'raw')
      .map((n) => [n['node-name'], (n.image as { 'virtual-size': number })['virtual-size']] as const)
      .sort(([a], [b]) => String(a).localeCompare(String(b)));
    expect(sizes).toEqual(Array.from({ length: 8 }, (_, i) => [`n${i}`, 4096 * (i + 1)]));
  });

  it('An fd-carrying command queued behind a full socket buffer still gets its own fd', async () => {
    const socket = launch().stdio[3];
    if (!(socket instanceof Socket)) throw new Error('QEMU monitor socket missing');
    const qmp = await QmpClient.connect(socket);
    const flood = (): Promise<unknown>[] => Array.from({ length: 8000 }, () => qmp.execute('query-status'));
    const first = flood();
    // ~300 KB of commands: more than the kernel buffers, so Node still holds bytes in its queue.
    expect(socket.writableLength).toBeGreaterThan(0);
    const add = qmp.execute(
      'add-fd',
      { 'fdset-id': 5, opaque: 'behind' },
      { fds: [open(image('q.img', 8192))] },
    );
    const second = flood();
    await Promise.all([...first, ...second]);
    await expect(add).resolves.toMatchObject({ 'fdset-id': 5 });
    await qmp.execute('blockdev-add', {
      driver: 'raw',
      'node-name': 'q',
      file: { driver: 'file', filename: '/dev/fdset/5' },
    });
    const node = (await qmp.execute('query-named-block-nodes')).find((n) => n['node-name'] === 'q');
    expect((node!.image as { 'virtual-size': number })['virtual-size']).toBe(8192);
  });

  it('A closed fd number is refused by the kernel and surfaces as QmpFdPassingError', async () => {
    const qmp = await connect();
    const fd = openSync(image('gone.img'), 'r');
    closeSync(fd);
    await expect(qmp.execute('add-fd', { 'fdset-id': 2 }, { fds: [fd] })).rejects.toBeInstanceOf(
      QmpFdPassingError,
    );
    await expect(qmp.execute('query-status')).resolves.toMatchObject({ status: 'prelaunch' });
  });
});
