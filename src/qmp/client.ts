// The QMP client: the one owner of a QEMU monitor socket. This file holds the public API and the
// handshake (greeting, capabilities, schema); the stream core is client-stream.ts.
import { createConnection, type Socket } from 'node:net';
import { Observable } from 'rxjs';
import type { QmpConnectOptions, QmpExecuteOptions } from './client-options.js';
import { QmpStream } from './client-stream.js';
import { armTimer, checkTimeout, type OnReturn, parseGreeting, type QmpVersion } from './client-wire.js';
import type { QmpArgs, QmpCommandName, QmpReturn } from './commands.js';
import {
  QmpAbortError,
  QmpDisconnectedError,
  QmpProtocolError,
  QmpSchemaUnavailableError,
  QmpTimeoutError,
} from './errors.js';
import type { QmpWireObject } from './framing.js';
import type { QmpSchema } from './schema-check.js';
import { SchemaGate } from './schema-gate.js';
import { schemaFor } from './schema-registry.js';
import type { QmpCloseInfo, QmpEvent } from './types.js';
import { executeAndWaitFor, type QmpWaitForOptions } from './wait-for.js';

export type { QmpConnectOptions, QmpExecuteOptions } from './client-options.js';

/**
 * The one owner of a QEMU QMP socket: validates the greeting, negotiates capabilities, then
 * correlates replies to commands by `id` (never by order), publishes events, passes file
 * descriptors (SCM_RIGHTS), and makes a disconnect terminal and visible. Every command has a
 * deadline (30 s unless given); with `schemaCheck` (or `VMACTOR_QMP_SCHEMA_CHECK=1`) every
 * command is checked against QEMU's own `query-qmp-schema` before it is written.
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
export class QmpClient extends QmpStream {
  /** QEMU's version from the greeting. */
  get version(): QmpVersion {
    return this.greetingVersion;
  }
  /** Capabilities QEMU offered in the greeting (e.g. `['oob']`; none is enabled). */
  get capabilities(): readonly string[] {
    return this.greetingCapabilities;
  }

  private constructor(socket: Socket, opts: QmpConnectOptions) {
    super(socket, opts);
  }

  /**
   * Takes ownership of a connected QMP socket: waits for a valid greeting (events before it are
   * ignored), negotiates `qmp_capabilities`, reads the schema when the check is on, and
   * resolves with the ready client. On failure (deadline, bad greeting, EOF, abort, no schema:
   * `QmpSchemaUnavailableError`) the socket is destroyed and the promise rejects with a typed error.
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
    return client.begin(opts).then(() => client);
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
    return this.gate?.schema;
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

  // --- the handshake ---------------------------------------------------------------------------

  private begin(opts: QmpConnectOptions): Promise<void> {
    const socket = this.socket;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onClose);
    const timeoutMs = opts.greetingTimeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      const timer = armTimer(
        timeoutMs,
        () => this.failHandshake(new QmpTimeoutError('greeting', timeoutMs)),
        0,
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

  protected override onHandshakeMessage(msg: QmpWireObject): void {
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
      this.internal('qmp_capabilities').then(
        () => this.afterCapabilities(),
        (err: Error) => this.failHandshake(err),
      );
      return;
    }
    // negotiating: replies are matched by id; events meanwhile are held for later.
    if (msg.id !== undefined) this.reply(msg);
    else this.held.push(msg);
  }

  /** One of the client's own commands: not checked, written at once. */
  private internal(cmd: string, args?: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.start0(cmd, args, undefined, resolve, reject, true);
    });
  }

  // With the schema check on, the schema is read (or taken from the process cache) before the
  // client is handed over, so the caller's very first command is checked.
  private afterCapabilities(): void {
    if (!this.schemaCheck) {
      this.negotiated();
      return;
    }
    const exec = (cmd: string, args?: Record<string, unknown>): Promise<unknown> => this.internal(cmd, args);
    schemaFor({ version: this.greetingVersion }, exec).then(
      (schema) => {
        const list = (typename: string) =>
          this.internal('device-list-properties', { typename }) as Promise<{ name: string; type: string }[]>;
        this.gate = new SchemaGate(schema, list, this.logger);
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
    h.resolve();
  }
}
