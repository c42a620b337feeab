// The ttrpc framer: frames survive any chunking; oversized frames are skipped and reported; garbage stops it.
import { describe, expect, it } from 'vitest';
import { TtrpcFrameTooLargeError, type TtrpcProtocolError } from '../../src/shim/errors.js';
import { decodeMessage, encodeMessage } from '../../src/shim/proto.js';
import {
  encodeTtrpcFrame,
  TTRPC_HEADER_BYTES,
  TTRPC_MAX_MESSAGE_BYTES,
  TTRPC_TYPE,
  type TtrpcFrame,
  TtrpcFramer,
} from '../../src/shim/ttrpc-framing.js';

function collect(max?: number) {
  const frames: TtrpcFrame[] = [];
  const oversized: TtrpcFrameTooLargeError[] = [];
  const garbage: TtrpcProtocolError[] = [];
  const framer = new TtrpcFramer(
    {
      frame: (f) => frames.push(f),
      oversized: (e) => oversized.push(e),
      protocolError: (e) => garbage.push(e),
    },
    max,
  );
  return { framer, frames, oversized, garbage };
}

describe('ttrpc framing', () => {
  it('writes the 10-byte header as length, stream id (both big-endian), type and flags', () => {
    const frame = encodeTtrpcFrame(0x01020304, TTRPC_TYPE.response, Buffer.from('abc'), 5);
    expect([...frame.subarray(0, TTRPC_HEADER_BYTES)]).toEqual([0, 0, 0, 3, 1, 2, 3, 4, 2, 5]);
    expect(frame.subarray(TTRPC_HEADER_BYTES).toString()).toBe('abc');
  });

  it('reassembles frames split at every byte boundary and splits frames that share a chunk', () => {
    const a = encodeTtrpcFrame(1, TTRPC_TYPE.request, Buffer.from('first'));
    const b = encodeTtrpcFrame(3, TTRPC_TYPE.request, Buffer.alloc(0));
    const c = encodeTtrpcFrame(5, TTRPC_TYPE.data, Buffer.from('third'), 1);
    const all = Buffer.concat([a, b, c]);
    for (let cut = 0; cut <= all.length; cut++) {
      const { framer, frames } = collect();
      framer.push(all.subarray(0, cut));
      framer.push(all.subarray(cut));
      expect(frames.map((f) => [f.streamId, f.type, f.flags, f.payload.toString()])).toEqual([
        [1, 1, 0, 'first'],
        [3, 1, 0, ''],
        [5, 3, 1, 'third'],
      ]);
    }
    const { framer, frames } = collect();
    for (const byte of all) framer.push(Buffer.from([byte]));
    expect(frames).toHaveLength(3);
    expect(framer.bufferedBytes).toBe(0);
  });

  it('reports an oversized frame once with its stream id, skips its payload and goes on with the next frame', () => {
    const { framer, frames, oversized } = collect(16);
    const big = encodeTtrpcFrame(7, TTRPC_TYPE.request, Buffer.alloc(40, 1), 0, 1000);
    const next = encodeTtrpcFrame(9, TTRPC_TYPE.request, Buffer.from('ok'));
    const all = Buffer.concat([big, next]);
    framer.push(all.subarray(0, 20));
    expect(oversized).toHaveLength(1);
    expect(oversized[0]).toMatchObject({
      streamId: 7,
      length: 40,
      maxLength: 16,
      code: 'ERR_TTRPC_FRAME_TOO_LARGE',
    });
    expect(framer.bufferedBytes).toBe(0);
    framer.push(all.subarray(20, 33));
    framer.push(all.subarray(33));
    expect(frames.map((f) => f.payload.toString())).toEqual(['ok']);
    expect(oversized).toHaveLength(1);
  });

  it('refuses to encode a payload over the 4 MiB cap', () => {
    expect(() => encodeTtrpcFrame(1, TTRPC_TYPE.request, Buffer.alloc(TTRPC_MAX_MESSAGE_BYTES + 1))).toThrow(
      TtrpcFrameTooLargeError,
    );
  });

  it('treats an unknown message type as garbage: one typed error, nothing after it', () => {
    const { framer, frames, garbage } = collect();
    framer.push(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    framer.push(encodeTtrpcFrame(1, TTRPC_TYPE.request, Buffer.from('late')));
    expect(garbage).toHaveLength(1);
    expect(garbage[0]?.code).toBe('ERR_TTRPC_PROTOCOL');
    expect(frames).toEqual([]);
  });

  it('round-trips ttrpc.Request through containerd-compatible protobuf', () => {
    const bytes = encodeMessage('ttrpc.Request', {
      service: 'containerd.task.v2.Task',
      method: 'State',
      payload: Buffer.from([1, 2]),
      timeout_nano: 5e9,
      metadata: [{ key: 'containerd-namespace-ttrpc', value: 'default' }],
    });
    const back = decodeMessage('ttrpc.Request', bytes);
    expect(back).toMatchObject({ service: 'containerd.task.v2.Task', method: 'State', timeout_nano: 5e9 });
    expect([...back.payload]).toEqual([1, 2]);
    expect(back.metadata).toEqual([{ key: 'containerd-namespace-ttrpc', value: 'default' }]);
  });
});
