// A ttrpc server on a Unix socket: unary calls dispatched to handlers by service and method.
import { chmod, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  GRPC_CODE,
  ShimNotImplementedError,
  type TtrpcFrameTooLargeError,
  TtrpcProtocolError,
  TtrpcUnknownStreamError,
} from './errors.js';
import { decodeMessage, encodeMessage } from './proto.js';
import type { RpcStatus } from './proto-types.js';
import { encodeTtrpcFrame, TTRPC_TYPE, type TtrpcFrame, TtrpcFramer } from './ttrpc-framing.js';
import { statusOf } from './ttrpc-status.js';

/** What a handler learns about its call besides the payload. */
export interface TtrpcCallInfo {
  readonly service: string;
  readonly method: string;
  /** The caller's deadline in ns (0: none). */
  readonly timeoutNano: number;
  readonly metadata: ReadonlyMap<string, string>;
}

/** A unary method: request payload in, response payload out; a thrown error becomes the status. */
export type TtrpcHandler = (payload: Uint8Array, call: TtrpcCallInfo) => Promise<Uint8Array>;

/** Options of {@link TtrpcServer}. */
export interface TtrpcServerOptions {
  readonly logger?: Logger;
  /** Called with each fault a peer caused (garbage, oversized frames, frames for unknown streams). */
  readonly onFault?: (err: Error) => void;
  /** Called with each well-formed request, before its handler runs (a bare connect is not one). */
  readonly onRequest?: (service: string, method: string) => void;
}

/**
 * ttrpc server: one {@link TtrpcFramer} per connection, requests answered on their own stream id
 * as soon as their handler settles (calls run concurrently, like ttrpc's Go server).
 *
 * @example
 * ```ts
 * const server = new TtrpcServer();
 * server.register('containerd.task.v2.Task', 'Connect', async () => encodeMessage('containerd.task.v2.ConnectResponse', { shim_pid: process.pid, task_pid: 0, version: '2' }));
 * await server.listen('/run/vmactor-shim/x.sock');
 * ```
 */
export class TtrpcServer {
  private readonly handlers = new Map<string, TtrpcHandler>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private path: string | undefined;

  constructor(private readonly options: TtrpcServerOptions = {}) {}

  /** Registers the handler of `service/method` (replacing any earlier one). */
  register(service: string, method: string, handler: TtrpcHandler): void {
    this.handlers.set(`${service}/${method}`, handler);
  }

  /** Listens on `path` (a socket file, mode 0600). Resolves once listening. */
  async listen(path: string): Promise<void> {
    const server = createServer((socket) => this.serve(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.path = path;
    await chmod(path, 0o600);
  }

  /** Serves one already-connected socket (tests use a socketpair-like peer). */
  serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', (err) => this.options.logger?.debug({ err }, 'ttrpc connection error'));
    const framer = new TtrpcFramer({
      frame: (f) => this.onFrame(socket, f),
      oversized: (err) => this.onOversized(socket, err),
      protocolError: (err) => {
        this.fault(err);
        socket.destroy();
      },
    });
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
  }

  /** Stops listening, closes every connection and removes the socket file. Idempotent. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.path) await rm(this.path, { force: true });
  }

  private fault(err: Error): void {
    this.options.logger?.warn({ err }, 'ttrpc peer fault');
    this.options.onFault?.(err);
  }

  private respond(
    socket: Socket,
    streamId: number,
    status: RpcStatus | undefined,
    payload: Uint8Array,
  ): void {
    if (socket.destroyed) return;
    const body = encodeMessage('ttrpc.Response', { status: status ?? null, payload });
    socket.write(encodeTtrpcFrame(streamId, TTRPC_TYPE.response, body));
  }

  private onOversized(socket: Socket, err: TtrpcFrameTooLargeError): void {
    this.fault(err);
    this.respond(socket, err.streamId, { code: err.grpcCode, message: err.message }, new Uint8Array());
  }

  private onFrame(socket: Socket, frame: TtrpcFrame): void {
    if (frame.type !== TTRPC_TYPE.request) {
      this.fault(new TtrpcUnknownStreamError(frame.streamId));
      return;
    }
    if (frame.streamId % 2 !== 1) {
      const message = 'StreamID must be odd for client initiated streams';
      this.respond(socket, frame.streamId, { code: GRPC_CODE.INVALID_ARGUMENT, message }, new Uint8Array());
      return;
    }
    let request: ReturnType<typeof decodeMessage<'ttrpc.Request'>>;
    try {
      request = decodeMessage('ttrpc.Request', frame.payload);
    } catch (cause) {
      const err = new TtrpcProtocolError(`ttrpc: unmarshal request error: ${(cause as Error).message}`, {
        cause,
      });
      this.fault(err);
      this.respond(socket, frame.streamId, statusOf(err), new Uint8Array());
      return;
    }
    void this.dispatch(socket, frame.streamId, request);
  }

  private async dispatch(
    socket: Socket,
    streamId: number,
    request: ReturnType<typeof decodeMessage<'ttrpc.Request'>>,
  ): Promise<void> {
    const { service, method } = request;
    this.options.onRequest?.(service, method);
    const handler = this.handlers.get(`${service}/${method}`);
    try {
      if (!handler) throw new ShimNotImplementedError(`ttrpc: ${service}/${method} is not implemented`);
      const info: TtrpcCallInfo = {
        service,
        method,
        timeoutNano: request.timeout_nano,
        metadata: new Map(request.metadata.map((kv) => [kv.key, kv.value])),
      };
      this.respond(socket, streamId, undefined, await handler(request.payload, info));
    } catch (err) {
      this.options.logger?.debug({ err, service, method }, 'ttrpc call failed');
      this.respond(socket, streamId, statusOf(err), new Uint8Array());
    }
  }
}
