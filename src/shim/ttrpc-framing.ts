// ttrpc's wire framing: a 10-byte header (length, stream id, type, flags) before each protobuf message.
import { TtrpcFrameTooLargeError, TtrpcProtocolError } from './errors.js';

/** Bytes of a ttrpc message header: length u32 BE, stream id u32 BE, type u8, flags u8. */
export const TTRPC_HEADER_BYTES = 10;

/** Largest accepted payload (ttrpc's `messageLengthMax`, 4 MiB). */
export const TTRPC_MAX_MESSAGE_BYTES = 4 << 20;

/** ttrpc message types: requests and responses (ttrpc 1.1), data frames of streams (1.2). */
export const TTRPC_TYPE = { request: 1, response: 2, data: 3 } as const;

/** A numeric ttrpc message type. */
export type TtrpcType = (typeof TTRPC_TYPE)[keyof typeof TTRPC_TYPE];

/** One decoded ttrpc frame. */
export interface TtrpcFrame {
  readonly streamId: number;
  readonly type: TtrpcType;
  readonly flags: number;
  readonly payload: Buffer;
}

/** Where a {@link TtrpcFramer} delivers what it finds. */
export interface TtrpcFramerSink {
  /** One complete frame. */
  frame(frame: TtrpcFrame): void;
  /** A frame over the cap: its payload is skipped and framing goes on (ttrpc answers RESOURCE_EXHAUSTED). */
  oversized(err: TtrpcFrameTooLargeError): void;
  /** Bytes that are not ttrpc (unknown type): framing stops; the owner closes the connection. */
  protocolError(err: TtrpcProtocolError): void;
}

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(TTRPC_TYPE));

/** Encodes one frame: the 10-byte header, then `payload`. Throws {@link TtrpcFrameTooLargeError} over the cap. */
export function encodeTtrpcFrame(
  streamId: number,
  type: TtrpcType,
  payload: Uint8Array,
  flags = 0,
  maxLength = TTRPC_MAX_MESSAGE_BYTES,
): Buffer {
  if (payload.length > maxLength) throw new TtrpcFrameTooLargeError(streamId, payload.length, maxLength);
  const header = Buffer.alloc(TTRPC_HEADER_BYTES);
  header.writeUInt32BE(payload.length, 0);
  header.writeUInt32BE(streamId >>> 0, 4);
  header.writeUInt8(type, 8);
  header.writeUInt8(flags & 0xff, 9);
  return Buffer.concat([header, payload]);
}

/**
 * Splits a ttrpc byte stream into frames, whatever the chunking. Memory is bounded: a frame whose
 * declared length is over `maxLength` is reported once (its stream id kept, so the server can
 * answer that call) and its payload bytes are dropped as they arrive, as ttrpc's Go channel does.
 * An unknown message type is garbage: reported once, and everything after it is ignored.
 *
 * @example
 * ```ts
 * const framer = new TtrpcFramer({ frame: (f) => dispatch(f), oversized: (e) => reply(e), protocolError: () => socket.destroy() });
 * socket.on('data', (chunk: Buffer) => framer.push(chunk));
 * ```
 */
export class TtrpcFramer {
  private buffer: Buffer = Buffer.alloc(0);
  private skipping = 0;
  private broken = false;

  constructor(
    private readonly sink: TtrpcFramerSink,
    /** Largest accepted payload in bytes. */
    readonly maxLength: number = TTRPC_MAX_MESSAGE_BYTES,
  ) {}

  /** Bytes of an unfinished frame currently held (at most header + `maxLength`). */
  get bufferedBytes(): number {
    return this.buffer.length;
  }

  /** Feeds bytes from the connection. */
  push(chunk: Buffer): void {
    if (this.broken) return;
    let data = chunk;
    if (this.skipping > 0) {
      const n = Math.min(this.skipping, data.length);
      this.skipping -= n;
      data = data.subarray(n);
      if (data.length === 0) return;
    }
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    this.drain();
  }

  private drain(): void {
    while (!this.broken && this.buffer.length >= TTRPC_HEADER_BYTES) {
      const length = this.buffer.readUInt32BE(0);
      const streamId = this.buffer.readUInt32BE(4);
      const type = this.buffer.readUInt8(8);
      const flags = this.buffer.readUInt8(9);
      if (!KNOWN_TYPES.has(type)) {
        this.broken = true;
        this.buffer = Buffer.alloc(0);
        this.sink.protocolError(
          new TtrpcProtocolError(
            `ttrpc: unknown message type ${type} on stream ${streamId} (not a ttrpc peer?)`,
          ),
        );
        return;
      }
      if (length > this.maxLength) {
        const available = this.buffer.length - TTRPC_HEADER_BYTES;
        const dropped = Math.min(available, length);
        this.skipping = length - dropped;
        this.buffer = this.buffer.subarray(TTRPC_HEADER_BYTES + dropped);
        this.sink.oversized(new TtrpcFrameTooLargeError(streamId, length, this.maxLength));
        if (this.skipping > 0) return;
        continue;
      }
      if (this.buffer.length < TTRPC_HEADER_BYTES + length) return;
      const payload = Buffer.from(this.buffer.subarray(TTRPC_HEADER_BYTES, TTRPC_HEADER_BYTES + length));
      this.buffer = this.buffer.subarray(TTRPC_HEADER_BYTES + length);
      this.sink.frame({ streamId, type: type as TtrpcType, flags, payload });
    }
  }
}
