// The core of the QMP client: one socket, id-correlated commands with deadlines, the schema
// gate before each write, events and replies dispatched, and a terminal, visible disconnect.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { type Observable, Subject } from 'rxjs';
import type { QmpConnectOptions, QmpExecuteOptions } from './client-options.js';
import {
  armTimer,
  checkTimeout,
  executeHead,
  isRecord,
  type OnError,
  type OnReturn,
  Pending,
  QMP_DEFAULT_TIMEOUT_MS,
  type QmpVersion,
  toEvent,
} from './client-wire.js';
import {
  QmpAbortError,
  QmpCommandError,
  QmpDisconnectedError,
  QmpProtocolError,
  QmpTimeoutError,
} from './errors.js';
import { QmpFramer, type QmpWireObject } from './framing.js';
import { observeQmpReply, qmpClock } from './observer.js';
import type { QmpSchemaError } from './schema-check.js';
import type { SchemaGate } from './schema-gate.js';
import { qmpSchemaCheckDefault } from './schema-registry.js';
import { SocketWriter } from './socket-writer.js';
import type { QmpCloseInfo, QmpEvent, QmpMessage } from './types.js';

/** Where the connection is: greeting → negotiating (capabilities, schema) → handoff → open → closed. */
export type QmpStreamState = 'greeting' | 'negotiating' | 'handoff' | 'open' | 'closed';

/** The pending `connect()`: settled by the handshake, with its deadline and abort signal. */
export interface QmpHandshake {
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** The stream half of `QmpClient` (the subclass adds the handshake and the public API). */
export abstract class QmpStream {
  /** Every message from QEMU after the greeting (replies and events), hot and shared. */
  readonly messages$: Observable<QmpMessage>;
  /**
   * QMP events, hot. Completes when the stream ends by EOF or `close()` (see `closed` for whether
   * it was expected); errors with `QmpDisconnectedError` on a socket or protocol error.
   */
  readonly events$: Observable<QmpEvent>;
  /** Resolves (never rejects) once the connection has ended. */
  readonly closed: Promise<QmpCloseInfo>;

  protected state: QmpStreamState = 'greeting';
  protected greetingVersion: QmpVersion = { qemu: { major: 0, minor: 0, micro: 0 }, package: '' };
  protected greetingCapabilities: readonly string[] = [];
  protected readonly pending = new Map<number, Pending>();
  protected readonly logger: Logger | undefined;
  protected readonly schemaCheck: boolean;
  protected gate: SchemaGate | undefined = undefined;
  protected expectingDisconnect = false;
  protected closeInfo: QmpCloseInfo | undefined;
  protected held: QmpWireObject[] = [];
  protected handshake: QmpHandshake | undefined;
  private nextId = 1;
  private readonly messagesSubject = new Subject<QmpMessage>();
  private readonly eventsSubject = new Subject<QmpEvent>();
  private readonly framer: QmpFramer;
  private readonly writer: SocketWriter;
  private readonly defaultTimeoutMs: number;
  private readonly validator: QmpConnectOptions['commandValidator'];
  private resolveClosed!: (info: QmpCloseInfo) => void;

  private readonly expire = (p: Pending): void => this.fail(p, new QmpTimeoutError(p.command, p.timeoutMs));
  protected readonly onData = (chunk: Buffer): void => this.framer.push(chunk);
  protected readonly onEnd = (): void => this.terminate('eof');
  // The peer vanishing with our bytes unread (ECONNRESET/EPIPE) is an EOF, not a socket fault.
  protected readonly onSocketError = (err: Error): void => {
    const code: unknown = Reflect.get(err, 'code');
    this.terminate(code === 'ECONNRESET' || code === 'EPIPE' ? 'eof' : 'error', err);
  };
  protected readonly onClose = (): void => this.terminate('eof');

  protected constructor(
    protected readonly socket: Socket,
    opts: QmpConnectOptions,
  ) {
    this.logger = opts.logger;
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? QMP_DEFAULT_TIMEOUT_MS;
    this.validator = opts.commandValidator;
    this.schemaCheck = opts.schemaCheck ?? qmpSchemaCheckDefault();
    this.messages$ = this.messagesSubject.asObservable();
    this.events$ = this.eventsSubject.asObservable();
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.framer = new QmpFramer({
      message: (m) => this.onMessage(m),
      protocolError: (e) => this.onProtocolError(e),
    });
    this.writer = new SocketWriter(socket);
  }

  /** A message while greeting or negotiating (the subclass runs the handshake). */
  protected abstract onHandshakeMessage(msg: QmpWireObject): void;

  protected endHandshake(): QmpHandshake | undefined {
    const h = this.handshake;
    if (!h) return undefined;
    this.handshake = undefined;
    clearTimeout(h.timer);
    if (h.signal && h.onAbort) h.signal.removeEventListener('abort', h.onAbort);
    return h;
  }

  protected failHandshake(err: Error): void {
    const h = this.endHandshake();
    if (!h) return;
    this.terminate('error', err);
    h.reject(err);
  }

  protected flushHeld(): void {
    if (this.state !== 'handoff') return;
    this.state = 'open';
    const held = this.held;
    this.held = [];
    for (const m of held) this.dispatch(m);
  }

  private onMessage(msg: QmpWireObject): void {
    switch (this.state) {
      case 'open':
        this.dispatch(msg);
        return;
      case 'handoff':
        this.held.push(msg);
        return;
      case 'closed':
        return;
      default:
        this.onHandshakeMessage(msg);
    }
  }

  private dispatch(msg: QmpWireObject): void {
    if (this.messagesSubject.observed) this.messagesSubject.next(msg as unknown as QmpMessage);
    if (msg.id !== undefined) {
      this.reply(msg);
      return;
    }
    const name = msg.event;
    if (typeof name === 'string') {
      if (this.eventsSubject.observed) this.eventsSubject.next(toEvent(msg, name));
      else this.logger?.debug({ event: name }, 'QMP event with no subscriber');
      return;
    }
    this.logger?.warn({ qmp: msg }, 'QMP message without id or event dropped');
  }

  protected reply(msg: QmpWireObject): void {
    const id = msg.id;
    const p = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (p === undefined) {
      this.logger?.warn({ id }, 'QMP reply for an unknown id dropped (timed out, aborted, or not ours)');
      return;
    }
    this.pending.delete(p.id);
    this.settle(p);
    if (p.sentAt !== 0) observeQmpReply(p.command, p.sentAt, 'return' in msg ? 'ok' : 'error');
    if ('return' in msg) {
      p.onReturn(msg.return);
      return;
    }
    const e = msg.error;
    if (isRecord(e)) {
      const cls = typeof e.class === 'string' ? e.class : 'GenericError';
      const desc = typeof e.desc === 'string' ? e.desc : JSON.stringify(e);
      p.onError(new QmpCommandError(p.command, cls, desc));
      return;
    }
    p.onError(
      new QmpProtocolError(
        `QMP reply to \`${p.command}\` has neither return nor error`,
        JSON.stringify(msg).slice(0, 120),
      ),
    );
  }

  private onProtocolError(err: QmpProtocolError): void {
    this.logger?.error({ err }, 'QMP protocol error; closing the connection');
    if (this.handshake) this.failHandshake(err);
    else this.terminate('error', err);
  }

  /** Starts a caller's command (after the handshake); rejects at once when closed. */
  protected start(
    cmd: string,
    args: Record<string, unknown> | undefined,
    opts: QmpExecuteOptions | undefined,
    onReturn: OnReturn,
    onError: OnError,
  ): Pending | undefined {
    if (this.state === 'closed') {
      onError(
        new QmpDisconnectedError(this.closeInfo?.reason ?? 'closed', {
          cause: this.closeInfo?.error,
          command: cmd,
        }),
      );
      return undefined;
    }
    return this.start0(cmd, args, opts, onReturn, onError);
  }

  /**
   * Checks, registers and writes one command. `internal` commands (the client's own
   * `qmp_capabilities`, `query-target`, `query-qmp-schema`, `device-list-properties`) skip the
   * checks and are written at once, even while caller commands are held.
   */
  protected start0(
    cmd: string,
    args: Record<string, unknown> | undefined,
    opts: QmpExecuteOptions | undefined,
    onReturn: OnReturn,
    onError: OnError,
    internal = false,
  ): Pending | undefined {
    const signal = opts?.signal;
    if (signal?.aborted) {
      onError(new QmpAbortError(cmd, signal.reason));
      return undefined;
    }
    const t = opts?.timeoutMs;
    let timeoutMs = this.defaultTimeoutMs;
    if (t !== undefined) {
      const bad = checkTimeout('timeoutMs', t);
      if (bad) {
        onError(bad);
        return undefined;
      }
      timeoutMs = t;
    }
    const gate = internal ? undefined : this.gate;
    let verdict: Promise<QmpSchemaError | undefined> | undefined;
    if (!internal) {
      if (this.validator) {
        try {
          this.validator(cmd, args);
        } catch (err) {
          onError(err instanceof Error ? err : new Error(String(err)));
          return undefined;
        }
      }
      if (gate !== undefined) {
        const v = gate.admit(cmd, args);
        if (v instanceof Error) {
          onError(v);
          return undefined;
        }
        verdict = v;
      }
    }
    const id = this.nextId++;
    const p = new Pending(id, cmd, timeoutMs, onReturn, onError);
    this.pending.set(id, p);
    p.timer = armTimer(timeoutMs, this.expire, p);
    if (signal) {
      p.signal = signal;
      p.onAbort = () => this.fail(p, new QmpAbortError(cmd, signal.reason));
      signal.addEventListener('abort', p.onAbort, { once: true });
    }
    const head = executeHead(cmd);
    const line =
      args === undefined
        ? `${head}"id":${id}}\n`
        : `${head}"arguments":${JSON.stringify(args)},"id":${id}}\n`;
    const fds = opts?.fds;
    if (gate === undefined || (verdict === undefined && !gate.holding)) this.send(p, line, fds);
    else
      gate.later(
        verdict,
        () => this.pending.get(p.id) === p,
        () => this.send(p, line, fds),
        (err) => this.fail(p, err),
      );
    return p;
  }

  private send(p: Pending, line: string, fds: readonly number[] | undefined): void {
    p.sentAt = qmpClock();
    if (fds !== undefined && fds.length > 0) this.writer.writeWithFds(line, fds, (err) => this.fail(p, err));
    else this.writer.write(line);
  }

  private settle(p: Pending): void {
    if (p.timer !== undefined) clearTimeout(p.timer);
    if (p.signal !== undefined && p.onAbort !== undefined) p.signal.removeEventListener('abort', p.onAbort);
  }

  /** Removes a pending command silently (unsubscribe). */
  protected drop(p: Pending): void {
    if (this.pending.get(p.id) !== p) return;
    this.pending.delete(p.id);
    this.settle(p);
  }

  /** Rejects a pending command (timeout, abort, fd-passing failure); its late reply is dropped. */
  private fail(p: Pending, err: Error): void {
    if (this.pending.get(p.id) !== p) return;
    this.pending.delete(p.id);
    this.settle(p);
    p.onError(err);
  }

  protected terminate(reason: QmpCloseInfo['reason'], error?: Error): void {
    if (this.state === 'closed') return;
    const wasHandoff = this.state === 'handoff';
    const socket = this.socket;
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('error', this.onSocketError);
    socket.off('close', this.onClose);
    // Keep a listener so a late socket error cannot become an uncaught exception.
    socket.on('error', () => {});
    socket.destroy();
    this.writer.close();
    this.framer.reset();
    if (wasHandoff) this.flushHeld();
    this.state = 'closed';
    const expected = reason === 'closed' || (reason === 'eof' && this.expectingDisconnect);
    const info: QmpCloseInfo = error ? { reason, expected, error } : { reason, expected };
    this.closeInfo = info;
    const h = this.endHandshake();
    if (h) h.reject(error ?? new QmpDisconnectedError(reason, { command: 'qmp_capabilities' }));
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      this.settle(p);
      // An expected EOF that overtakes `quit`'s own reply is that command's success.
      if (expected && reason === 'eof' && p.command === 'quit') p.onReturn({});
      else p.onError(new QmpDisconnectedError(reason, { cause: error, command: p.command }));
    }
    this.held = [];
    if (!expected) this.logger?.warn({ reason, err: error }, 'QMP connection ended unexpectedly');
    this.resolveClosed(info);
    if (reason === 'error') {
      const err = new QmpDisconnectedError('error', { cause: error });
      this.messagesSubject.error(err);
      this.eventsSubject.error(err);
    } else {
      this.messagesSubject.complete();
      this.eventsSubject.complete();
    }
  }
}
