import { QmpProtocolError } from './errors.js';

/** Longest QMP line accepted, in bytes (10 MiB, as libvirt and QEMU's own `qemu.qmp` use). */
export const QMP_MAX_LINE_BYTES = 10 * 1024 * 1024;

/** A parsed QMP wire message: always a JSON object. */
export type QmpWireObject = Record<string, unknown>;

/** Where a {@link QmpFramer} delivers what it finds. */
export interface QmpFramerSink {
  /** One complete JSON object (one line). */
  message(msg: QmpWireObject): void;
  /** A line that is not a JSON object, or a line over the cap (the framer then resynchronises). */
  protocolError(err: QmpProtocolError): void;
}

const LF = 10;
const CR = 13;

function excerptOf(buf: Buffer, start: number, end: number): string {
  return buf.toString('utf8', start, Math.min(end, start + 120));
}

/**
 * Splits a QMP byte stream into JSON objects, one per line (LF or CRLF).
 *
 * Memory is bounded: at most `maxLineBytes` of an unfinished line are held; a longer line is
 * reported once as a {@link QmpProtocolError} and skipped up to its newline (the framer then
 * resynchronises on the next line). Lines that are not JSON objects are reported, never thrown.
 * Splitting on the byte 0x0A is UTF-8 safe (it never occurs inside a multi-byte sequence).
 *
 * @example
 * ```ts
 * const framer = new QmpFramer({ message: (m) => console.log(m), protocolError: (e) => console.error(e) });
 * socket.on('data', (chunk: Buffer) => framer.push(chunk));
 * ```
 */
export class QmpFramer {
  private parts: Buffer[] = [];
  private partsLength = 0;
  private discarding = false;

  constructor(
    private readonly sink: QmpFramerSink,
    /** Largest accepted line in bytes, excluding the line terminator. */
    readonly maxLineBytes: number = QMP_MAX_LINE_BYTES,
  ) {}

  /** Bytes of an unfinished line currently held (never more than `maxLineBytes`). */
  get bufferedBytes(): number {
    return this.partsLength;
  }

  /** Feeds one chunk from the socket; delivers every line it completes, synchronously, in order. */
  push(chunk: Buffer): void {
    const len = chunk.length;
    let start = 0;
    while (start < len) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) {
        this.stash(chunk, start, len);
        return;
      }
      if (this.discarding) {
        this.discarding = false;
      } else if (this.partsLength === 0) {
        if (nl - start > this.maxLineBytes) this.overflow(chunk, start, nl);
        else this.line(chunk, start, nl);
      } else {
        const total = this.partsLength + (nl - start);
        if (total > this.maxLineBytes) {
          const first = this.parts[0]!;
          this.dropParts();
          this.overflow(first, 0, first.length);
        } else {
          this.parts.push(chunk.subarray(start, nl));
          const whole = Buffer.concat(this.parts, total);
          this.dropParts();
          this.line(whole, 0, total);
        }
      }
      start = nl + 1;
    }
  }

  /** Forgets any unfinished line (e.g. after the connection ended). */
  reset(): void {
    this.dropParts();
    this.discarding = false;
  }

  private stash(chunk: Buffer, start: number, end: number): void {
    if (this.discarding) return;
    const n = end - start;
    if (this.partsLength + n > this.maxLineBytes) {
      const first = this.parts[0] ?? chunk.subarray(start, end);
      this.dropParts();
      this.discarding = true;
      this.overflow(first, 0, first.length);
      return;
    }
    // Copy: a partial line must not pin the whole read buffer it arrived in.
    const copy = Buffer.allocUnsafe(n);
    chunk.copy(copy, 0, start, end);
    this.parts.push(copy);
    this.partsLength += n;
  }

  private dropParts(): void {
    this.parts = [];
    this.partsLength = 0;
  }

  private overflow(buf: Buffer, start: number, end: number): void {
    this.sink.protocolError(
      new QmpProtocolError(
        `QMP line exceeds the ${this.maxLineBytes}-byte cap; the line was dropped`,
        excerptOf(buf, start, end),
      ),
    );
  }

  private line(buf: Buffer, start: number, end: number): void {
    if (end > start && buf[end - 1] === CR) end--;
    if (end === start) return;
    const text = buf.toString('utf8', start, end);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      if (text.trim() === '') return;
      this.sink.protocolError(
        new QmpProtocolError('QMP peer sent a line that is not JSON', text.slice(0, 120), { cause }),
      );
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.sink.protocolError(
        new QmpProtocolError('QMP peer sent JSON that is not an object', text.slice(0, 120)),
      );
      return;
    }
    this.sink.message(value as QmpWireObject);
  }
}
