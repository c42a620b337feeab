// A ttrpc client on a Unix socket: unary calls on odd stream ids, responses correlated by stream id.
import { connect, type Socket } from 'node:net';
import {
  TtrpcClosedError,
  type TtrpcFrameTooLargeError,
  TtrpcProtocolError,
  TtrpcStatusError,
  TtrpcTimeoutError,
  TtrpcUnknownStreamError,
} from './errors.js';
import { decodeMessage, encodeMessage } from './proto.js';
import { encodeTtrpcFrame, TTRPC_TYPE, type TtrpcFrame, TtrpcFramer } from './ttrpc-framing.js';

/** Options of one {@link TtrpcClient.call}. */
export interface TtrpcCallOptions {
  /** Deadline in ms (also sent as `timeout_nano`). Default 10 000. */
  readonly timeoutMs?: number;
  readonly metadata?: Readonly<Record<string, string>>;
}

interface Waiter {
  readonly method: string;
  resolve(payload: Uint8Array): void;
  reject(err: Error): void;
}

/**
 * ttrpc client over one connection. A response for a stream with no waiting call is a
 * {@link TtrpcUnknownStreamError} given to `onFault` and otherwise dropped (ttrpc's Go client logs
 * it); garbage closes the connection and fails every pending call with {@link TtrpcClosedError}.
 *
 * @example
 * ```ts
 * const client = await TtrpcClient.connect(process.env.TTRPC_ADDRESS ?? '');
 * await client.call('containerd.services.events.ttrpc.v1.Events', 'Forward', payload);
 * client.close();
 * ```
 */
export class TtrpcClient {
  private nextStream = 1;
  private readonly waiters = new Map<number, Waiter>();
  private closedError: TtrpcClosedError | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly onFault?: (err: Error) => void,
  ) {
    const framer = new TtrpcFramer({
      frame: (f) => this.onFrame(f),
      oversized: (err) => this.onOversized(err),
      protocolError: (err) => this.shutdown(err),
    });
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown());
  }

  /** Connects to a ttrpc server at `path` (a `unix://` prefix is accepted). */
  static connect(path: string, onFault?: (err: Error) => void): Promise<TtrpcClient> {
    const target = path.startsWith('unix://') ? path.slice('unix://'.length) : path;
    return new Promise((resolve, reject) => {
      const socket = connect(target);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new TtrpcClient(socket, onFault));
      });
      socket.once('error', reject);
    });
  }

  /** Wraps an already-connected socket. */
  static over(socket: Socket, onFault?: (err: Error) => void): TtrpcClient {
    return new TtrpcClient(socket, onFault);
  }

  /** One unary call; resolves with the response payload or rejects with a typed ttrpc error. */
  call(
    service: string,
    method: string,
    payload: Uint8Array,
    options: TtrpcCallOptions = {},
  ): Promise<Uint8Array> {
    if (this.closedError) return Promise.reject(this.closedError);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const streamId = this.nextStream;
    this.nextStream += 2;
    const request = encodeMessage('ttrpc.Request', {
      service,
      method,
      payload,
      timeout_nano: timeoutMs * 1e6,
      metadata: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    });
    const frame = encodeTtrpcFrame(streamId, TTRPC_TYPE.request, request);
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(streamId);
        reject(new TtrpcTimeoutError(`ttrpc: no response to ${service}/${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle =
        <A>(fn: (a: A) => void) =>
        (a: A) => {
          clearTimeout(timer);
          this.waiters.delete(streamId);
          fn(a);
        };
      this.waiters.set(streamId, {
        method: `${service}/${method}`,
        resolve: settle(resolve),
        reject: settle(reject),
      });
      this.socket.write(frame);
    });
  }

  /** Closes the connection; pending calls reject with {@link TtrpcClosedError}. Idempotent. */
  close(): void {
    this.shutdown();
    this.socket.destroy();
  }

  private onFrame(frame: TtrpcFrame): void {
    const waiter = this.waiters.get(frame.streamId);
    if (!waiter || frame.type !== TTRPC_TYPE.response) {
      this.onFault?.(new TtrpcUnknownStreamError(frame.streamId));
      return;
    }
    let response: ReturnType<typeof decodeMessage<'ttrpc.Response'>>;
    try {
      response = decodeMessage('ttrpc.Response', frame.payload);
    } catch (cause) {
      waiter.reject(new TtrpcProtocolError(`ttrpc: bad response to ${waiter.method}`, { cause }));
      return;
    }
    const status = response.status;
    if (status && status.code !== 0)
      waiter.reject(new TtrpcStatusError(waiter.method, status.code, status.message));
    else waiter.resolve(response.payload);
  }

  private onOversized(err: TtrpcFrameTooLargeError): void {
    this.onFault?.(err);
    this.waiters.get(err.streamId)?.reject(err);
  }

  private shutdown(cause?: Error): void {
    if (this.closedError) return;
    if (cause) this.onFault?.(cause);
    this.closedError = new TtrpcClosedError('ttrpc: the connection closed', cause ? { cause } : undefined);
    for (const w of [...this.waiters.values()]) w.reject(this.closedError);
    if (cause) this.socket.destroy();
  }
}
