// A child's stdout/stderr piped through the controller: teed to its log file, a bounded tail kept in memory.
import { closeSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';

/** Bytes of output kept in memory (the start error and the exit report read it). */
export const OUTPUT_TAIL_BYTES = 64 * 1024;

/** Longest line handed to `onLine` (longer ones are cut). */
const MAX_LINE = 64 * 1024;

/** Options of {@link teeOutput}. */
export interface TeeOptions {
  /**
   * The log file's fd, open for appending (closed when the streams end); `undefined`: no file, tail
   * only. Written synchronously: a child prints a few lines (a write of a chunk on a local fs is
   * microseconds), and the stop then waits for no thread-pool write or close.
   */
  readonly log: number | undefined;
  /** Every complete line, as it arrives (e.g. to the logger). */
  readonly onLine?: (line: string) => void;
  /** The first failed write to the log (ENOSPC, EIO); the tail keeps going. */
  readonly onLogError?: (err: unknown) => void;
}

/** What {@link teeOutput} returns. */
export interface OutputTee {
  /** The last {@link OUTPUT_TAIL_BYTES} of output (both streams, in arrival order). */
  tail(): string;
  /** False once a write to the log file failed (or there was no log file): the file is incomplete. */
  logComplete(): boolean;
  /** Resolves once every stream ended and the log file is closed. */
  readonly done: Promise<void>;
}

/**
 * Reads `streams` (a child's stdout and stderr pipes) to their end: each chunk is appended to
 * the log file in order, kept in a bounded in-memory tail, and split into lines for `onLine`.
 * A failing log write (full filesystem) loses nothing the tail holds, and never stops reading:
 * the child must never block on a full pipe.
 *
 * @example
 * ```ts
 * const tee = teeOutput([child.stdout, child.stderr], { log: openSync(file, 'a', 0o600) });
 * await tee.done; console.log(tee.tail());
 * ```
 */
export function teeOutput(streams: readonly (Readable | null)[], opts: TeeOptions): OutputTee {
  let tail = '';
  let logOk = opts.log !== undefined;
  // Partial lines per stream (stdout and stderr interleave by chunk, not by line).
  const partials = new Map<Readable, string>();
  const log = opts.log;
  // Synchronous writes keep the order of arrival; the first failure stops the file, not the tail.
  const append = (chunk: Buffer): void => {
    if (log === undefined || !logOk) return;
    try {
      let off = 0;
      while (off < chunk.length) off += writeSync(log, chunk, off, chunk.length - off);
    } catch (err) {
      logOk = false;
      opts.onLogError?.(err);
    }
  };
  const onChunk = (stream: Readable, chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-OUTPUT_TAIL_BYTES);
    append(chunk);
    if (!opts.onLine) return;
    const lines = ((partials.get(stream) ?? '') + text).split('\n');
    let partial = lines.pop() ?? '';
    if (partial.length > MAX_LINE) {
      lines.push(partial);
      partial = '';
    }
    partials.set(stream, partial);
    for (const l of lines) if (l) opts.onLine(l.endsWith('\r') ? l.slice(0, -1) : l);
  };
  const ended = streams.map(
    (s) =>
      new Promise<void>((resolve) => {
        if (!s) return resolve();
        s.on('data', (chunk: Buffer) => onChunk(s, chunk));
        s.once('close', () => resolve());
        s.once('error', () => resolve());
      }),
  );
  const done = Promise.all(ended).then(() => {
    for (const rest of partials.values()) if (rest) opts.onLine?.(rest);
    partials.clear();
    if (log !== undefined) closeQuietly(log);
  });
  return { tail: () => tail, logComplete: () => logOk, done };
}

/** Closes `fd`, ignoring an error (the log is best effort: the tail holds the output). */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {}
}
