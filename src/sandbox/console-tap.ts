// The guest console: read from QEMU's console socket into `console.log`, streamed through pino at debug.
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { type Observable, Subject } from 'rxjs';

const MAX_TAIL = 1024 * 1024;

/** A connection to the guest console that keeps a log file and publishes lines. */
export class ConsoleTap {
  /** Console lines as they arrive (hot); completes when the console closes. */
  readonly lines$: Observable<string>;
  private readonly subject = new Subject<string>();
  private socket: Socket | undefined;
  private file: WriteStream | undefined;
  private partial = '';
  private done: Promise<void> | undefined;
  private tail = '';
  /** False once a write to the log file failed (full filesystem): `read()` answers from memory. */
  private fileOk = true;
  /** Settles when the latest chunk handed to the log file was written (or failed). */
  private lastWrite: Promise<void> = Promise.resolve();

  constructor(
    readonly socketPath: string,
    readonly logFile: string,
    private readonly logger: Logger,
  ) {
    this.lines$ = this.subject.asObservable();
  }

  /** Connects (QEMU listens with `wait=off`); failures are logged, never thrown. */
  open(): void {
    const file = createWriteStream(this.logFile, { flags: 'a', mode: 0o600 });
    this.file = file;
    file.on('error', (err) => {
      // The stream is destroyed after an error: the tail in memory carries on alone.
      this.fileOk = false;
      if (this.file === file) this.file = undefined;
      this.logger.warn({ err }, 'console log file error; keeping the console in memory');
    });
    const socket = connect(this.socketPath);
    this.socket = socket;
    this.done = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (err) => this.logger.debug({ err }, 'console socket error'));
    socket.on('data', (chunk: Buffer) => {
      const file = this.file;
      if (this.fileOk && file) this.lastWrite = new Promise((resolve) => file.write(chunk, () => resolve()));
      const str = chunk.toString('utf8');
      this.tail = (this.tail + str).slice(-MAX_TAIL);
      const text = this.partial + str;
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const raw of lines) {
        const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
        this.logger.debug({ console: line }, 'guest console');
        this.subject.next(line);
      }
    });
    socket.once('close', () => this.finish());
  }

  /**
   * What the console printed so far: the log file while every write to it succeeded, else (the
   * file is gone or incomplete, e.g. its filesystem is full) the last MiB kept in memory.
   */
  async read(): Promise<string> {
    // Data may still sit in the stream's buffer: wait for the latest chunk to reach the file.
    if (this.fileOk) await this.lastWrite;
    if (!this.fileOk) return this.tail;
    return readFile(this.logFile, 'utf8').catch(() => this.tail);
  }

  /** Disconnects and flushes the log file. */
  async close(): Promise<void> {
    if (!this.socket) {
      this.finish();
      return;
    }
    this.socket.destroy();
    await this.done;
    this.finish();
    const file = this.file;
    this.file = undefined;
    if (file) await new Promise<void>((resolve) => file.end(() => resolve()));
  }

  private finish(): void {
    if (this.partial) {
      this.subject.next(this.partial);
      this.partial = '';
    }
    this.subject.complete();
  }
}
