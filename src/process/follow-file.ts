// Follows a growing log file by inotify (fs.watch) and hands out complete lines: no polling.
import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

/** A follower of one file; `close()` reads what is left (and the last partial line) first. */
export interface FileFollower {
  close(): Promise<void>;
}

/**
 * Calls `onLine` for every line appended to `path` (which must exist), starting at `offset`.
 * Lines longer than 64 KiB are cut. Errors reading are reported to `onError` and end the follower.
 */
export async function followFile(
  path: string,
  onLine: (line: string) => void,
  opts: { offset?: number; onError?: (err: unknown) => void } = {},
): Promise<FileFollower> {
  const fh: FileHandle = await open(path, 'r');
  let offset = opts.offset ?? 0;
  let partial = '';
  let reading: Promise<void> | undefined;
  let again = false;
  let closed = false;
  const buf = Buffer.alloc(64 * 1024);

  const readAll = async (): Promise<void> => {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      if (bytesRead === 0) return;
      offset += bytesRead;
      const text = partial + buf.toString('utf8', 0, bytesRead);
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      if (partial.length > buf.length) {
        onLine(partial);
        partial = '';
      }
      for (const l of lines) onLine(l.endsWith('\r') ? l.slice(0, -1) : l);
    }
  };
  const pump = (): Promise<void> => {
    if (reading) {
      again = true;
      return reading;
    }
    reading = (async () => {
      do {
        again = false;
        await readAll();
      } while (again);
    })()
      .catch((err: unknown) => opts.onError?.(err))
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };

  let watcher: FSWatcher | undefined = watch(path, { persistent: false }, () => {
    if (!closed) void pump();
  });
  watcher.on('error', () => {});
  void pump();

  return {
    async close() {
      if (closed) return;
      closed = true;
      watcher?.close();
      watcher = undefined;
      await pump();
      if (reading) await reading;
      if (partial) onLine(partial);
      partial = '';
      await fh.close().catch(() => {});
    },
  };
}
