// The QMP client: the one owner of a QEMU monitor socket (greeting, capabilities, id-correlated
// commands with deadlines, events, fd passing, the optional live schema check, disconnect).
import { createConnection, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Observable, Subject } from 'rxjs';
import {
  armTimer,
  checkTimeout,
  executeHead,
  isRecord,
  type OnError,
  type OnReturn,
  Pending,
  parseGreeting,
  QMP_DEFAULT_TIMEOUT_MS,
  type QmpVersion,
  toEvent,
} from './client-wire.js';
import type { QmpArgs, QmpCommandName, QmpReturn } from './commands.js';
import {
  QmpAbortError,
  QmpCommandError,
  QmpDisconnectedError,
  QmpProtocolError,
  QmpSchemaUnavailableError,
  QmpTimeoutError,
} from './errors.js';
import { QmpFramer, type QmpWireObject } from './framing.js';
import type { QmpSchema, QmpSchemaError } from './schema-check.js';
import {
  qmpSchemaCheckDefault,
  qmpSchemaCounters,
  recordQmpSchemaViolation,
  schemaFor,
} from './schema-registry.js';
import { SocketWriter } from './socket-writer.js';
import type { QmpCloseInfo, QmpEvent, QmpMessage } from './types.js';
import { executeAndWaitFor, type QmpWaitForOptions } from './wait-for.js';

/** Options of {@link QmpClient.connect}. */
export interface QmpConnectOptions {
  /** Deadline for the greeting, `qmp_capabilities` and the schema fetch (default 10 000 ms). */
  greetingTimeoutMs?: number;
  /** Receives warnings (unknown reply ids, stray messages, schema violations) and debug lines. */
  logger?: Logger;
  /** Aborts the handshake; the socket is destroyed. */
  signal?: AbortSignal;
  /**
   * Deadline of commands that give no `timeoutMs` of their own (default 30 000 ms). `Infinity`
   * means no deadline and must be asked for explicitly.
   */
  defaultTimeoutMs?: number;
  /**
   * Validates every command against this QEMU's `query-qmp-schema` before writing it; a mismatch
   * rejects with `QmpSchemaError` and nothing is sent. The schema is fetched on connect, once per
   * QEMU version/package/target in this process. Default: `VMACTOR_QMP_SCHEMA_CHECK=1` (on for the
   * test suite). When on and the schema cannot be read, `connect` rejects with
   * `QmpSchemaUnavailableError`: a peer without `query-qmp-schema` (a fake) must pass `false`.
   */
  schemaCheck?: boolean;
  /**
   * Called with every command before it is written; throwing rejects the command without
   * sending it.
   */
  commandValidator?: (command: string, args: Record<string, unknown> | undefined) => void;
}

/** Options of one command. */
export interface QmpExecuteOptions {
  /**
   * Deadline for the reply (default: the client's `defaultTimeoutMs`, 30 s); on expiry the command
   * rejects with `QmpTimeoutError` and its late reply is dropped. `Infinity`: no deadline.
   */
  timeoutMs?: number;
  /** Abandons the command (rejects with `QmpAbortError`); a late reply is dropped. */
  signal?: AbortSignal;
  /** File descriptors sent with the command's own bytes (SCM_RIGHTS), e.g. for `getfd` / `add-fd`. */
  fds?: readonly number[];
}

type State = 'greeting' | 'negotiating' | 'handoff' | 'open' | 'closed';

/**
 * The one owner of a QEMU QMP socket: validates the greeting, negotiates capabilities, then
 * correlates replies to commands by `id` (never by order), publishes events, passes file
 * descriptors (SCM_RIGHTS), and makes a disconnect terminal and visible.
 *
 * @example
 * ```ts
 * const child = spawn(qemu, [...argv, '-chardev', 'socket,id=mon0,fd=3', '-mon', 'chardev=mon0,mode=control'],
 *   { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
 * const qmp = await QmpClient.connect(child.stdio[3] as Socket, { logger });
 * qmp.events$.subscribe((e) => logger.info(e));
 * const { status } = await qmp.execute('query-status');
 * await qmp.executeAndWaitFor('device_del', { id: 'blk0' },
 *   (e) => e.event === 'DEVICE_DELETED' && e.data.device === 'blk0', { timeoutMs: 10_000 });
 * qmp.expectDisconnect();
 * await qmp.execute('quit');
 * await qmp.closed; // { reason: 'eof', expected: true }
 * ```
 */
export class QmpClient {
  /** QEMU's version from the greeting. */
  get version(): QmpVersion {
    return this.greetingVersion;
  }
  /** Capabilities QEMU offered in the greeting (e.g. `['oob']`; none is enabled). */
  get capabilities(): readonly string[] {
    return this.greetingCapabilities;
  }
  /** Every message from QEMU after the greeting (replies and events), hot and shared. */
  readonly messages$: Observable<QmpMessage>;
  /**
   * QMP events, hot. Completes when the stream ends by EOF or `close()` (see `closed` for whether
   * it was expected); errors with `QmpDisconnectedError` on a socket or protocol error.
   */
  readonly events$: Observable<QmpEvent>;
  /** Resolves (never rejects) once the connection has ended. */
  readonly closed: Promise<QmpCloseInfo>;

  private state: State = 'greeting';
  private greetingVersion: QmpVersion = { qemu: { major: 0, minor: 0, micro: 0 }, package: '' };
  private greetingCapabilities: readonly string[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly messagesSubject = new Subject<QmpMessage>();
  private readonly eventsSubject = new Subject<QmpEvent>();
  private readonly framer: QmpFramer;
  private readonly writer: SocketWriter;
  private readonly logger: Logger | undefined;
  private readonly defaultTimeoutMs: number;
  private readonly validator: QmpConnectOptions['commandValidator'];
  private readonly schemaCheck: boolean;
  private schemaInUse: QmpSchema | undefined;
  // Writes wait behind a `device_add` whose driver's properties are being loaded, in order.
  private writesHeld = 0;
  private writeTail: Promise<void> = Promise.resolve();
  private expectingDisconnect = false;
  private closeInfo: QmpCloseInfo | undefined;
  private resolveClosed!: (info: QmpCloseInfo) => void;
  private held: QmpWireObject[] = [];
  private handshake:
    | {
        resolve: (c: QmpClient) => void;
        reject: (e: Error) => void;
        timer: NodeJS.Timeout;
        signal?: AbortSignal;
        onAbort?: () => void;
      }
    | undefined;

  private readonly expire = (p: Pending): void => this.fail(p, new QmpTimeoutError(p.command, p.timeoutMs));
  private readonly onData = (chunk: Buffer): void => this.framer.push(chunk);
  private readonly onEnd = (): void => this.terminate('eof');
  // The peer vanishing with our bytes unread (ECONNRESET/EPIPE) is an EOF, not a socket fault.
  private readonly onSocketError = (err: Error): void => {
    const code: unknown = Reflect.get(err, 'code');
    this.terminate(code === 'ECONNRESET' || code === 'EPIPE' ? 'eof' : 'error', err);
  };
  private readonly onClose = (): void => this.terminate('eof');

  private constructor(
    private readonly socket: Socket,
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

  /**
   * Takes ownership of a connected QMP socket: waits for a valid greeting (events before it are
   * ignored), negotiates `qmp_capabilities`, and resolves with the ready client. On failure
   * (deadline, bad greeting, EOF, abort) the socket is destroyed and the promise rejects with a
   * typed error.
   *
   * @example
   * ```ts
   * const qmp = await QmpClient.connect(child.stdio[3] as Socket, { greetingTimeoutMs: 5000 });
   * console.log(qmp.version.qemu); // { major: 7, minor: 2, micro: 22 }
   * ```
   */
  static connect(socket: Socket, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const bad =
      (opts.defaultTimeoutMs !== undefined && checkTimeout('defaultTimeoutMs', opts.defaultTimeoutMs)) ||
      (opts.greetingTimeoutMs !== undefined && checkTimeout('greetingTimeoutMs', opts.greetingTimeoutMs));
    if (bad) {
      socket.destroy();
      return Promise.reject(bad);
    }
    const client = new QmpClient(socket, opts);
    return client.begin(opts);
  }

  /**
   * Connects to a QMP server listening on a Unix socket path (e.g. the run dir's second
   * monitor, to reattach after a controller restart), then as {@link QmpClient.connect}.
   *
   * @example
   * ```ts
   * const qmp = await QmpClient.connectUnix('/run/vmactor/sb1/qmp.sock');
   * ```
   */
  static connectUnix(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    return new Promise<Socket>((resolve, reject) => {
      const s = createConnection(path);
      const fail = (err: Error): void => {
        s.destroy();
        reject(new QmpDisconnectedError('error', { cause: err }));
      };
      s.once('error', fail);
      s.once('connect', () => {
        s.off('error', fail);
        resolve(s);
      });
    }).then((s) => QmpClient.connect(s, opts));
  }

  /** The schema every command is checked against, when the schema check is on. */
  get schema(): QmpSchema | undefined {
    return this.schemaInUse;
  }

  /** Why the connection ended, once it has (see `closed`). */
  get closeReason(): QmpCloseInfo['reason'] | undefined {
    return this.closeInfo?.reason;
  }

  /** Number of commands awaiting a reply. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Runs a command; cold: the command is written on subscribe and its pending entry is
   * forgotten on unsubscribe (a late reply is then dropped). Emits the return value once.
   *
   * @example
   * ```ts
   * qmp.execute$('query-status', undefined, { timeoutMs: 1000 }).subscribe((s) => console.log(s.status));
   * ```
   */
  execute$<K extends QmpCommandName>(
    cmd: K,
    args?: QmpArgs<K>,
    opts?: QmpExecuteOptions,
  ): Observable<QmpReturn<K>> {
    return new Observable<QmpReturn<K>>((subscriber) => {
      const p = this.start(
        cmd,
        args as Record<string, unknown> | undefined,
        opts,
        (value) => {
          subscriber.next(value as QmpReturn<K>);
          subscriber.complete();
        },
        (err) => subscriber.error(err),
      );
      return () => {
        if (p) this.drop(p);
      };
    });
  }

  /**
   * Runs a command and resolves with its return value; rejects with `QmpCommandError` (QEMU's
   * `class` and `desc`), `QmpTimeoutError`, `QmpAbortError`, `QmpDisconnectedError` or
   * `QmpFdPassingError`.
   *
   * @example
   * ```ts
   * await qmp.execute('blockdev-add', { driver: 'raw', 'node-name': 'drive0',
   *   file: { driver: 'file', filename: '/dev/fdset/1' } });
   * ```
   */
  execute<K extends QmpCommandName>(
    cmd: K,
    args?: QmpArgs<K>,
    opts?: QmpExecuteOptions,
  ): Promise<QmpReturn<K>> {
    return new Promise<QmpReturn<K>>((resolve, reject) => {
      this.start(cmd, args as Record<string, unknown> | undefined, opts, resolve as OnReturn, reject);
    });
  }

  /**
   * Runs a command that is not in the typed table (arguments and return untyped).
   *
   * @example
   * ```ts
   * const r = await qmp.executeUntyped('query-kvm');
   * ```
   */
  executeUntyped(cmd: string, args?: Record<string, unknown>, opts?: QmpExecuteOptions): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      this.start(cmd, args, opts, resolve, reject);
    });
  }

  /**
   * Runs a command and waits for the event it causes, without a race: the event listener is
   * subscribed before the command is written, so an event that arrives before (or after) the
   * reply is seen. `timeoutMs` is the deadline for both (`Infinity`: none, explicitly).
   *
   * @example
   * ```ts
   * const { event } = await qmp.executeAndWaitFor('device_del', { id: 'nic0' },
   *   (e) => e.event === 'DEVICE_DELETED' && e.data.device === 'nic0', { timeoutMs: 10_000 });
   * ```
   */
  executeAndWaitFor<K extends QmpCommandName>(
    cmd: K,
    args: QmpArgs<K> | undefined,
    match: (e: QmpEvent) => boolean,
    opts: QmpWaitForOptions,
  ): Promise<{ result: QmpReturn<K>; event: QmpEvent }> {
    return executeAndWaitFor(this, cmd, args, match, opts);
  }

  /**
   * Marks the coming EOF as expected (call before `quit`): `closed` reports `expected: true`, and
   * a pending `quit` whose reply is overtaken by the EOF resolves instead of rejecting.
   */
  expectDisconnect(): void {
    this.expectingDisconnect = true;
  }

  /** Closes the connection (idempotent): pending commands reject with `QmpDisconnectedError`. */
  close(): void {
    this.terminate('closed');
  }

  /** `using qmp = await QmpClient.connect(...)` closes it at scope exit. */
  [Symbol.dispose](): void {
    this.close();
  }

  // --- internals -------------------------------------------------------------------------------

  private begin(opts: QmpConnectOptions): Promise<QmpClient> {
    const socket = this.socket;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onClose);
    const timeoutMs = opts.greetingTimeoutMs ?? 10_000;
    return new Promise<QmpClient>((resolve, reject) => {
      const timer = setTimeout(
        () => this.failHandshake(new QmpTimeoutError('greeting', timeoutMs)),
        timeoutMs,
      );
      this.handshake = { resolve, reject, timer };
      const signal = opts.signal;
      if (signal) {
        if (signal.aborted) {
          this.failHandshake(new QmpAbortError('qmp_capabilities', signal.reason));
          return;
        }
        const onAbort = (): void => this.failHandshake(new QmpAbortError('qmp_capabilities', signal.reason));
        signal.addEventListener('abort', onAbort, { once: true });
        this.handshake.signal = signal;
        this.handshake.onAbort = onAbort;
      }
      if (socket.destroyed) this.terminate('eof');
    });
  }

  private endHandshake(): NonNullable<QmpClient['handshake']> | undefined {
    const h = this.handshake;
    if (!h) return undefined;
    this.handshake = undefined;
    clearTimeout(h.timer);
    if (h.signal && h.onAbort) h.signal.removeEventListener('abort', h.onAbort);
    return h;
  }

  private failHandshake(err: Error): void {
    const h = this.endHandshake();
    if (!h) return;
    this.terminate('error', err);
    h.reject(err);
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

  private onHandshakeMessage(msg: QmpWireObject): void {
    if (this.state === 'greeting') {
      if (msg.QMP === undefined) {
        // An event (or anything else) before the greeting is not the greeting.
        this.logger?.debug({ qmp: msg }, 'QMP message before the greeting ignored');
        return;
      }
      const g = parseGreeting(msg);
      if (!g) {
        this.failHandshake(
          new QmpProtocolError('QMP greeting is malformed', JSON.stringify(msg).slice(0, 120)),
        );
        return;
      }
      this.greetingVersion = g.version;
      this.greetingCapabilities = Object.freeze(g.capabilities);
      this.state = 'negotiating';
      this.start0(
        'qmp_capabilities',
        undefined,
        undefined,
        () => this.afterCapabilities(),
        (err) => this.failHandshake(err),
        true,
      );
      return;
    }
    // negotiating: the capabilities reply is matched by id; events meanwhile are held for later.
    if (msg.id !== undefined) this.reply(msg);
    else this.held.push(msg);
  }

  // With the schema check on, the schema is read (or taken from the process cache) before the
  // client is handed over, so the caller's very first command is checked.
  private afterCapabilities(): void {
    if (!this.schemaCheck) {
      this.negotiated();
      return;
    }
    const exec = (command: string, args?: Record<string, unknown>): Promise<unknown> =>
      new Promise((resolve, reject) => {
        this.start0(command, args, undefined, resolve, reject, true);
      });
    schemaFor({ version: this.greetingVersion }, exec).then(
      (schema) => {
        this.schemaInUse = schema;
        this.negotiated();
      },
      (err: unknown) =>
        this.failHandshake(
          new QmpSchemaUnavailableError(
            'QMP schema check is on but QEMU did not serve `query-qmp-schema`; pass `schemaCheck: false` only for a peer that is not QEMU',
            { cause: err },
          ),
        ),
    );
  }

  private negotiated(): void {
    const h = this.endHandshake();
    if (!h) return;
    // Hand the client over; messages that arrive before the caller's continuation has run (and
    // could subscribe to events$) are held and delivered on the next turn of the event loop.
    this.state = 'handoff';
    setImmediate(() => this.flushHeld());
    h.resolve(this);
  }

  private flushHeld(): void {
    if (this.state !== 'handoff') return;
    this.state = 'open';
    const held = this.held;
    this.held = [];
    for (const m of held) this.dispatch(m);
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

  private reply(msg: QmpWireObject): void {
    const id = msg.id;
    const p = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (p === undefined) {
      this.logger?.warn({ id }, 'QMP reply for an unknown id dropped (timed out, aborted, or not ours)');
      return;
    }
    this.pending.delete(p.id);
    this.settle(p);
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

  private start(
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

  private start0(
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
      const schema = this.schemaInUse;
      if (schema !== undefined) {
        qmpSchemaCounters.checked++;
        const driver = schema.unloadedDriver(cmd, args);
        if (driver === undefined) {
          const err = schema.validate(cmd, args);
          if (err !== undefined) {
            recordQmpSchemaViolation(err, this.logger);
            onError(err);
            return undefined;
          }
        } else {
          verdict = this.loadDriver(schema, driver).then(() => schema.validate(cmd, args));
        }
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
    if (verdict === undefined && (internal || this.writesHeld === 0)) this.send(p, line, fds);
    else this.sendAfter(p, line, fds, verdict);
    return p;
  }

  private send(p: Pending, line: string, fds: readonly number[] | undefined): void {
    if (fds !== undefined && fds.length > 0) this.writer.writeWithFds(line, fds, (err) => this.fail(p, err));
    else this.writer.write(line);
  }

  // Loads a device driver's qdev properties through this connection (bounded by the default deadline).
  private loadDriver(schema: QmpSchema, driver: string): Promise<void> {
    return schema.loadDriver(
      driver,
      (typename) =>
        new Promise((resolve, reject) => {
          this.start0('device-list-properties', { typename }, undefined, resolve as OnReturn, reject, true);
        }),
    );
  }

  // Writes a command once its verdict is in, after every command held before it (order kept).
  private sendAfter(
    p: Pending,
    line: string,
    fds: readonly number[] | undefined,
    verdict: Promise<QmpSchemaError | undefined> | undefined,
  ): void {
    this.writesHeld++;
    this.writeTail = this.writeTail.then(async () => {
      try {
        const err = verdict === undefined ? undefined : await verdict;
        if (this.pending.get(p.id) !== p) return; // timed out, aborted, unsubscribed or closed
        if (err !== undefined) {
          recordQmpSchemaViolation(err, this.logger);
          this.fail(p, err);
        } else {
          this.send(p, line, fds);
        }
      } finally {
        this.writesHeld--;
      }
    });
  }

  private settle(p: Pending): void {
    if (p.timer !== undefined) clearTimeout(p.timer);
    if (p.signal !== undefined && p.onAbort !== undefined) p.signal.removeEventListener('abort', p.onAbort);
  }

  /** Removes a pending command silently (unsubscribe). */
  private drop(p: Pending): void {
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

  private terminate(reason: QmpCloseInfo['reason'], error?: Error): void {
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
