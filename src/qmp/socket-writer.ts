import type { Socket } from 'node:net';
import { QmpFdPassingError } from './errors.js';
import { fdPassingBinding, socketFd } from './fd-passing.js';

interface QueuedWrite {
  data: string;
  fds: readonly number[] | undefined;
  onError: ((err: Error) => void) | undefined;
}

const MAX_BACKOFF_MS = 50;

/**
 * The single writer of a QMP socket. Plain writes go straight to `socket.write`. A write that
 * carries file descriptors waits until Node's write queue has reached the kernel, then goes out
 * with one `sendmsg(SCM_RIGHTS)`; writes issued meanwhile queue behind it, so bytes are never
 * interleaved and the fds arrive attached to their own command's bytes.
 *
 * @example
 * ```ts
 * const w = new SocketWriter(socket);
 * w.write('{"execute":"query-status","id":1}\n');
 * w.writeWithFds('{"execute":"getfd","arguments":{"fdname":"tap0"},"id":2}\n', [fd], console.error);
 * ```
 */
export class SocketWriter {
  private queue: QueuedWrite[] = [];
  private busy = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly socket: Socket) {}

  /** Writes `data` in order after everything written before. */
  write(data: string): void {
    if (this.busy) this.queue.push({ data, fds: undefined, onError: undefined });
    else this.socket.write(data);
  }

  /** Writes `data` with `fds` attached (SCM_RIGHTS), in order; failures go to `onError`. */
  writeWithFds(data: string, fds: readonly number[], onError: (err: Error) => void): void {
    const item: QueuedWrite = { data, fds, onError };
    if (this.busy) this.queue.push(item);
    else this.start(item);
  }

  /** Stops writing: queued writes are dropped, a pending retry is cancelled. */
  close(): void {
    this.closed = true;
    this.queue = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private start(item: QueuedWrite): void {
    this.busy = true;
    if (this.socket.writableLength > 0) {
      // The empty write's callback runs once every earlier byte has been handed to the kernel.
      this.socket.write('', () => this.send(item, Buffer.from(item.data), 1));
    } else {
      this.send(item, Buffer.from(item.data), 1);
    }
  }

  private send(item: QueuedWrite, buf: Buffer, backoff: number): void {
    if (this.closed) return;
    let sent: number;
    try {
      sent = fdPassingBinding().sendWithFds(socketFd(this.socket), buf, item.fds ?? []);
    } catch (cause) {
      const err =
        cause instanceof QmpFdPassingError
          ? cause
          : new QmpFdPassingError('sendmsg with SCM_RIGHTS failed', { cause });
      item.onError?.(err);
      this.next();
      return;
    }
    if (sent < 0) {
      // Socket buffer full (EAGAIN): back off and retry; the fds have not been sent yet.
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.send(item, buf, Math.min(backoff * 2, MAX_BACKOFF_MS));
      }, backoff);
      return;
    }
    // Partial send: the fds went with the first byte; the rest follows in order.
    if (sent < buf.length) this.socket.write(buf.subarray(sent));
    this.next();
  }

  private next(): void {
    this.busy = false;
    while (this.queue.length > 0 && !this.busy && !this.closed) {
      const item = this.queue.shift()!;
      if (item.fds) this.start(item);
      else this.socket.write(item.data);
    }
  }
}
