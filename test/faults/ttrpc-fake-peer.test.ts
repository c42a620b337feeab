// Protocol faults against the shim's ttrpc server and client on real Unix sockets: split frames,
// oversized frames, frames for unknown streams, garbage. The fake peer only injects bytes.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  GRPC_CODE,
  TtrpcClosedError,
  TtrpcFrameTooLargeError,
  TtrpcProtocolError,
  type TtrpcStatusError,
  TtrpcTimeoutError,
  TtrpcUnknownStreamError,
} from '../../src/shim/errors.js';
import { decodeMessage, encodeMessage } from '../../src/shim/proto.js';
import { TtrpcClient } from '../../src/shim/ttrpc-client.js';
import { encodeTtrpcFrame, TTRPC_TYPE, type TtrpcFrame, TtrpcFramer } from '../../src/shim/ttrpc-framing.js';
import { TtrpcServer } from '../../src/shim/ttrpc-server.js';

let dir: string;
const cleanups: (() => unknown)[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmactor-ttrpcfault-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function requestFrame(streamId: number, method: string, payload = Buffer.from('ping')): Buffer {
  const body = encodeMessage('ttrpc.Request', {
    service: 'test.Echo',
    method,
    payload,
    timeout_nano: 0,
    metadata: [],
  });
  return encodeTtrpcFrame(streamId, TTRPC_TYPE.request, body);
}

/** A real server with one echo method, and a raw peer connected to it that reads frames back. */
async function serverAndRawPeer() {
  const faults: Error[] = [];
  const requests: string[] = [];
  const server = new TtrpcServer({
    onFault: (e) => faults.push(e),
    onRequest: (service, method) => requests.push(`${service}/${method}`),
  });
  server.register('test.Echo', 'Echo', async (p) => p);
  server.register('test.Echo', 'Fail', async () => {
    throw new Error('boom');
  });
  const path = join(dir, 's.sock');
  await server.listen(path);
  cleanups.push(() => server.close());
  const socket = connect(path);
  cleanups.push(() => socket.destroy());
  await new Promise((r) => socket.once('connect', r));
  const queue: TtrpcFrame[] = [];
  let wake: (() => void) | undefined;
  const framer = new TtrpcFramer({
    frame: (f) => {
      queue.push(f);
      wake?.();
    },
    oversized: () => {},
    protocolError: () => {},
  });
  socket.on('data', (c: Buffer) => framer.push(c));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const next = async () => {
    while (queue.length === 0) await new Promise<void>((r) => (wake = r));
    const f = queue.shift() as TtrpcFrame;
    return { streamId: f.streamId, ...decodeMessage('ttrpc.Response', f.payload) };
  };
  return { socket, next, faults, closed, requests };
}

describe('ttrpc server against a fake peer', () => {
  it('tells a request, not a bare connect or garbage, as the peer calling (the orphan deadline)', async () => {
    const { socket, next, requests } = await serverAndRawPeer();
    socket.write(encodeTtrpcFrame(2, TTRPC_TYPE.request, Buffer.from('x')));
    expect((await next()).streamId).toBe(2);
    expect(requests).toEqual([]);
    socket.write(requestFrame(1, 'Echo'));
    expect((await next()).streamId).toBe(1);
    expect(requests).toEqual(['test.Echo/Echo']);
  });

  it('answers a request whose frame arrives one byte at a time', async () => {
    const { socket, next } = await serverAndRawPeer();
    for (const b of requestFrame(1, 'Echo', Buffer.from('hello'))) socket.write(Buffer.from([b]));
    const r = await next();
    expect(r.streamId).toBe(1);
    expect(r.status).toBeNull();
    expect(Buffer.from(r.payload).toString()).toBe('hello');
  });

  it('answers an oversized frame with RESOURCE_EXHAUSTED on its stream and keeps serving the connection', async () => {
    const { socket, next, faults } = await serverAndRawPeer();
    const header = Buffer.alloc(10);
    header.writeUInt32BE(5 << 20, 0);
    header.writeUInt32BE(3, 4);
    header.writeUInt8(TTRPC_TYPE.request, 8);
    socket.write(header);
    for (let i = 0; i < 5; i++) socket.write(Buffer.alloc(1 << 20));
    socket.write(requestFrame(5, 'Echo', Buffer.from('after')));
    const tooBig = await next();
    expect(tooBig.streamId).toBe(3);
    expect(tooBig.status?.code).toBe(GRPC_CODE.RESOURCE_EXHAUSTED);
    const after = await next();
    expect(after.streamId).toBe(5);
    expect(Buffer.from(after.payload).toString()).toBe('after');
    expect(faults[0]).toBeInstanceOf(TtrpcFrameTooLargeError);
  });

  it('reports a response frame for a stream it never opened and goes on', async () => {
    const { socket, next, faults } = await serverAndRawPeer();
    socket.write(encodeTtrpcFrame(41, TTRPC_TYPE.response, Buffer.alloc(0)));
    socket.write(requestFrame(7, 'Echo'));
    expect((await next()).streamId).toBe(7);
    expect(faults).toHaveLength(1);
    expect(faults[0]).toBeInstanceOf(TtrpcUnknownStreamError);
  });

  it('maps unknown methods to UNIMPLEMENTED, even stream ids to INVALID_ARGUMENT and handler errors to UNKNOWN', async () => {
    const { socket, next } = await serverAndRawPeer();
    socket.write(requestFrame(1, 'Nope'));
    expect((await next()).status?.code).toBe(GRPC_CODE.UNIMPLEMENTED);
    socket.write(requestFrame(2, 'Echo'));
    expect((await next()).status?.code).toBe(GRPC_CODE.INVALID_ARGUMENT);
    socket.write(requestFrame(3, 'Fail'));
    expect((await next()).status).toMatchObject({ code: GRPC_CODE.UNKNOWN, message: 'boom' });
  });

  it('closes the connection on garbage and reports one typed error', async () => {
    const { socket, closed, faults } = await serverAndRawPeer();
    socket.write(Buffer.from('\x00\x00\x00\x02\x00\x00\x00\x01\xff\x00zz'));
    await closed;
    expect(faults).toHaveLength(1);
    expect(faults[0]).toBeInstanceOf(TtrpcProtocolError);
  });
});

/** A fake server that hands each received request frame to `onRequest` with its raw socket. */
async function fakeServer(onRequest: (s: Socket, f: TtrpcFrame) => void): Promise<string> {
  const path = join(dir, 'fake.sock');
  const server: Server = createServer((s) => {
    s.on('error', () => {});
    cleanups.push(() => s.destroy());
    const framer = new TtrpcFramer({
      frame: (f) => onRequest(s, f),
      oversized: () => {},
      protocolError: () => {},
    });
    s.on('data', (c: Buffer) => framer.push(c));
  });
  await new Promise<void>((r) => server.listen(path, r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return path;
}

function response(streamId: number, payload: string, status?: { code: number; message: string }): Buffer {
  const body = encodeMessage('ttrpc.Response', { status: status ?? null, payload: Buffer.from(payload) });
  return encodeTtrpcFrame(streamId, TTRPC_TYPE.response, body);
}

describe('ttrpc client against a fake server', () => {
  it('drops a response for an unknown stream (reported), then resolves the real one, split across writes', async () => {
    const path = await fakeServer((s, f) => {
      const bytes = Buffer.concat([response(f.streamId + 100, 'stray'), response(f.streamId, 'mine')]);
      s.write(bytes.subarray(0, 7));
      s.write(bytes.subarray(7));
    });
    const faults: Error[] = [];
    const client = await TtrpcClient.connect(`unix://${path}`, (e) => faults.push(e));
    cleanups.push(() => client.close());
    expect(Buffer.from(await client.call('test.Echo', 'Echo', Buffer.from('x'))).toString()).toBe('mine');
    expect(faults).toEqual([expect.any(TtrpcUnknownStreamError)]);
    expect((faults[0] as TtrpcUnknownStreamError).streamId).toBe(101);
  });

  it('rejects with the remote status, a deadline error, and a closed error after garbage', async () => {
    let n = 0;
    const path = await fakeServer((s, f) => {
      n++;
      if (n === 1) s.write(response(f.streamId, '', { code: GRPC_CODE.NOT_FOUND, message: 'no such task' }));
      if (n === 3) s.write(Buffer.from('\x00\x00\x00\x00\x00\x00\x00\x05\x09\x00'));
    });
    const client = await TtrpcClient.connect(path);
    cleanups.push(() => client.close());
    await expect(client.call('test.Echo', 'Echo', Buffer.alloc(0))).rejects.toMatchObject({
      name: 'TtrpcStatusError',
      statusCode: GRPC_CODE.NOT_FOUND,
      statusMessage: 'no such task',
    } satisfies Partial<TtrpcStatusError>);
    await expect(client.call('test.Echo', 'Echo', Buffer.alloc(0), { timeoutMs: 50 })).rejects.toBeInstanceOf(
      TtrpcTimeoutError,
    );
    await expect(client.call('test.Echo', 'Echo', Buffer.alloc(0))).rejects.toBeInstanceOf(TtrpcClosedError);
    await expect(client.call('test.Echo', 'Echo', Buffer.alloc(0))).rejects.toBeInstanceOf(TtrpcClosedError);
  });
});
