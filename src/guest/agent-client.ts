// Typed host-side client of the default guest's agent protocol over a connected Duplex.
import type { Duplex } from 'node:stream';
import { type Observable, Subject } from 'rxjs';
import {
  GuestAgentClosedError,
  GuestAgentReplyError,
  GuestAgentTimeoutError,
  GuestEventTimeoutError,
  GuestProtocolError,
  GuestRequestInvalidError,
} from './errors.js';
import {
  formatRequest,
  type GuestCommand,
  type GuestCommands,
  type GuestEvent,
  type GuestLine,
  type GuestProcEvent,
  parseGuestLine,
} from './protocol.js';

/** Options of {@link GuestAgentClient}. */
export interface GuestAgentClientOptions {
  /** Longest line accepted from the guest, in bytes. Default 16 MiB. Longer → {@link GuestProtocolError}. */
  readonly maxLineBytes?: number;
}

/** Per-call options of {@link GuestAgentClient.request} and {@link GuestAgentClient.waitReady}. */
export interface GuestCallOptions {
  /** Deadline in ms. Default 10 000 for requests, 60 000 for `waitReady`. */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

/** Options of {@link GuestAgentClient.waitReady}. */
export interface GuestReadyOptions extends GuestCallOptions {
  /**
   * Also send a `ping` and count its reply as readiness (default `true`). A host that reconnects
   * quickly to a channel QEMU listens on may get no fresh ready line (the guest never saw the
   * hang-up), but the queued ping is always answered once the guest serves.
   */
  readonly ping?: boolean;
}

/** Options of {@link GuestAgentClient.waitForEvent}. */
export interface GuestEventWaitOptions {
  /** Deadline in ms, counted from the call (i.e. from arming, before the caller triggers anything). Default 10 000. */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

interface Pending {
  readonly command: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * Talks to the default guest's init over its agent channel (the host end of the
 * `agent.channel.0` virtio-serial port: a Unix socket QEMU's chardev is connected to).
 * Replies are correlated by id; the client owns the stream and destroys it on {@link close}.
 *
 * @example
 * const client = new GuestAgentClient(socket);
 * const { release } = await client.waitReady({ timeout: 30_000 });
 * const cpus = await client.request('cpus', []);
 * console.log(release, cpus.online);
 */
export class GuestAgentClient {
  /** Every line received from the guest, parsed (including `invalid` ones). Completes on close. */
  readonly lines$: Observable<GuestLine>;
  /**
   * The guest's unsolicited hotplug events (`event <JSON>` lines), hot: a subscriber sees only
   * events that arrive after it subscribed. Completes on close.
   */
  /** Container process output and exits (`proc-start`), hot; completes on close. */
  readonly procEvents$: Observable<GuestProcEvent>;
  readonly events$: Observable<GuestEvent>;
  private readonly lines = new Subject<GuestLine>();
  private readonly events = new Subject<GuestEvent>();
  private readonly procEvents = new Subject<GuestProcEvent>();
  private readonly pending = new Map<string, Pending>();
  private readonly readyWaiters = new Set<Pending>();
  private readonly maxLineBytes: number;
  private buffer = '';
  private nextId = 1;
  private readyRelease: string | undefined;
  private closedError: Error | undefined;

  constructor(
    private readonly stream: Duplex,
    options: GuestAgentClientOptions = {},
  ) {
    this.maxLineBytes = options.maxLineBytes ?? 16 * 1024 * 1024;
    this.lines$ = this.lines.asObservable();
    this.events$ = this.events.asObservable();
    this.procEvents$ = this.procEvents.asObservable();
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => this.onData(chunk));
    stream.on('end', () => this.shutdown(new GuestAgentClosedError('The guest agent channel reached EOF')));
    stream.on('close', () => this.shutdown(new GuestAgentClosedError('The guest agent channel closed')));
    stream.on('error', (cause: Error) =>
      this.shutdown(new GuestAgentClosedError(`The guest agent channel failed: ${cause.message}`, { cause })),
    );
  }

  /** The kernel release from the last ready line, once seen. */
  get release(): string | undefined {
    return this.readyRelease;
  }

  /**
   * Resolves with the guest's kernel release when its `VMACTOR-GUEST-READY` line arrives
   * (at once if it already did), or when the guest answers the `ping` this sends (see
   * {@link GuestReadyOptions.ping}). Rejects at the deadline or when the channel closes.
   */
  waitReady(options: GuestReadyOptions = {}): Promise<{ release: string }> {
    if (this.readyRelease !== undefined) return Promise.resolve({ release: this.readyRelease });
    if (this.closedError) return Promise.reject(this.closedError);
    const timeout = options.timeout ?? 60_000;
    if (options.ping !== false) {
      this.request('ping', [], { timeout, ...(options.signal ? { signal: options.signal } : {}) }).then(
        (r) => this.markReady(r.release),
        () => undefined, // the ready waiter reports its own timeout/close
      );
    }
    return this.track<{ release: string }>(
      'waitReady',
      timeout,
      options.signal,
      (p) => this.readyWaiters.add(p),
      (p) => this.readyWaiters.delete(p),
      () => new GuestAgentTimeoutError(`The guest did not print its ready line within ${timeout} ms`),
    );
  }

  /**
   * Sends `<id> <command> [args...]` and resolves with the reply's JSON payload.
   * Rejects with {@link GuestRequestInvalidError} before sending bad input, {@link GuestAgentReplyError}
   * on `<id> err`, {@link GuestAgentTimeoutError} at the deadline, {@link GuestAgentClosedError} on EOF.
   * The guest serves one request at a time; a timed-out request still runs there to completion.
   */
  request<C extends GuestCommand>(
    command: C,
    args: GuestCommands[C]['args'],
    options: GuestCallOptions = {},
  ): Promise<GuestCommands[C]['result']> {
    const id = String(this.nextId++);
    const formatted = formatRequest(id, command, args);
    if (!formatted.ok) return Promise.reject(new GuestRequestInvalidError(formatted.reason));
    if (this.closedError) return Promise.reject(this.closedError);
    const timeout = options.timeout ?? 10_000;
    return this.track<GuestCommands[C]['result']>(
      command,
      timeout,
      options.signal,
      (p) => {
        this.pending.set(id, p);
        this.stream.write(formatted.line);
      },
      () => this.pending.delete(id),
      () =>
        new GuestAgentTimeoutError(`The guest did not answer \`${command}\` (id ${id}) within ${timeout} ms`),
    );
  }

  /**
   * Resolves with the first guest event (from now on) that satisfies `predicate`. The wait is armed
   * synchronously by this call, so call it *before* triggering the hotplug and await it after:
   * an event that arrives in between is not missed. Rejects with {@link GuestEventTimeoutError} at
   * the deadline or on abort, {@link GuestAgentClosedError} when the channel closes, and with
   * whatever `predicate` throws.
   *
   * @example
   * const seen = agent.waitForEvent((e) => e.subsystem === 'block' && e.action === 'add' && e.serial === 'd1', {
   *   timeout: 20_000,
   * });
   * await qmp.execute('device_add', { driver: 'virtio-blk-pci', id: 'd1', drive: 'd1', serial: 'd1' });
   * const { devname } = await seen;
   */
  waitForEvent<E extends GuestEvent>(
    predicate: (event: GuestEvent) => event is E,
    options?: GuestEventWaitOptions,
  ): Promise<E>;
  waitForEvent(
    predicate: (event: GuestEvent) => boolean,
    options?: GuestEventWaitOptions,
  ): Promise<GuestEvent>;
  waitForEvent(
    predicate: (event: GuestEvent) => boolean,
    options: GuestEventWaitOptions = {},
  ): Promise<GuestEvent> {
    if (this.closedError) return Promise.reject(this.closedError);
    const timeout = options.timeout ?? 10_000;
    const { signal } = options;
    return new Promise<GuestEvent>((resolve, reject) => {
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        subscription.unsubscribe();
        settle();
      };
      const onAbort = () =>
        finish(() =>
          reject(
            new GuestEventTimeoutError(
              'Waiting for a guest event was aborted',
              { timeoutMs: timeout, aborted: true },
              { cause: signal?.reason },
            ),
          ),
        );
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new GuestEventTimeoutError(`No matching guest event within ${timeout} ms`, {
                timeoutMs: timeout,
                aborted: false,
              }),
            ),
          ),
        timeout,
      );
      const subscription = this.events.subscribe({
        next: (event) => {
          let match: boolean;
          try {
            match = predicate(event);
          } catch (err) {
            finish(() => reject(err));
            return;
          }
          if (match) finish(() => resolve(event));
        },
        complete: () =>
          finish(() =>
            reject(this.closedError ?? new GuestAgentClosedError('The guest agent channel closed')),
          ),
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Reads a guest file through `read` and decodes it. */
  async readFile(path: string, options: GuestCallOptions = {}): Promise<Buffer> {
    const { base64 } = await this.request('read', [path], options);
    return Buffer.from(base64, 'base64');
  }

  /** Rejects everything pending with {@link GuestAgentClosedError} and destroys the stream. Idempotent. */
  close(): void {
    this.shutdown(new GuestAgentClosedError('The guest agent client was closed'));
    this.stream.destroy();
  }

  private track<T>(
    command: string,
    timeout: number,
    signal: AbortSignal | undefined,
    register: (p: Pending) => void,
    unregister: (p: Pending) => void,
    timeoutError: () => Error,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        unregister(entry);
      };
      const entry: Pending = {
        command,
        resolve: (v) => {
          cleanup();
          resolve(v as T);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      };
      const onAbort = () =>
        entry.reject(new GuestAgentTimeoutError(`\`${command}\` was aborted`, { cause: signal?.reason }));
      const timer = setTimeout(() => entry.reject(timeoutError()), timeout);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      register(entry);
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl = this.buffer.indexOf('\n');
    while (nl >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      this.onLine(line);
      nl = this.buffer.indexOf('\n');
    }
    if (Buffer.byteLength(this.buffer) > this.maxLineBytes) {
      this.shutdown(new GuestProtocolError(`The guest sent a line longer than ${this.maxLineBytes} bytes`));
      this.stream.destroy();
    }
  }

  private onLine(raw: string): void {
    if (raw.trim() === '') return;
    const line = parseGuestLine(raw);
    this.lines.next(line);
    switch (line.kind) {
      case 'ready':
        this.markReady(line.release);
        break;
      case 'ok':
        this.pending.get(line.id)?.resolve(line.result);
        break;
      case 'err': {
        const p = this.pending.get(line.id);
        p?.reject(new GuestAgentReplyError(p.command, line.message));
        break;
      }
      case 'event':
        this.events.next(line.event);
        break;
      case 'proc':
        this.procEvents.next(line.event);
        break;
      case 'invalid':
        // Not correlatable to a request: visible on lines$, otherwise ignored.
        break;
    }
  }

  private markReady(release: string): void {
    this.readyRelease = release;
    for (const w of [...this.readyWaiters]) w.resolve({ release });
  }

  private shutdown(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const p of [...this.pending.values()]) p.reject(error);
    for (const w of [...this.readyWaiters]) w.reject(error);
    this.lines.complete();
    this.events.complete();
    this.procEvents.complete();
  }
}
