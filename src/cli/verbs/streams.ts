// Client verbs that read streams: events (SSE), console (live lines), logs (the console so far).
import { call, open, ServiceRequestError, text } from './client.js';
import { EXIT, parseVerb, runVerb, UsageError } from './common.js';

const OPTS = '[--socket PATH] [--json]';

/** One parsed SSE frame. */
interface Frame {
  id?: string;
  event?: string;
  data: string;
}

/** Splits an SSE byte stream into frames (blank-line separated; comments dropped). */
export function sseFrames(onFrame: (f: Frame) => void): (chunk: string) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk;
    for (;;) {
      const end = buf.indexOf('\n\n');
      if (end < 0) return;
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const f: Frame = { data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const key = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (key === 'id') f.id = value;
        else if (key === 'event') f.event = value;
        else if (key === 'data') data.push(value);
      }
      if (data.length === 0 && f.id === undefined) continue;
      f.data = data.join('\n');
      onFrame(f);
    }
  };
}

function describe(e: Record<string, unknown>): string {
  const parts = [String(e.seq), String(e.sandboxId), String(e.type)];
  if (e.type === 'lifecycle') parts.push(`${e.from} -> ${e.to}${e.reason ? ` (${e.reason})` : ''}`);
  else if (e.type === 'operation') parts.push(`${e.kind} ${e.id} ${e.phase}`);
  else if (e.type === 'device') parts.push(`${e.change} ${e.deviceId ?? e.path ?? ''}`);
  else if (e.type === 'supervisor') parts.push(String(e.change));
  return parts.join('  ');
}

/** `vmactor events [--sandbox ID] [--since SEQ] [--count N]`: the host's event stream. */
export function events(argv: readonly string[]): Promise<number> {
  const usage = `usage: vmactor events [--sandbox ID] [--since SEQ] [--count N] ${OPTS}

Streams every sandbox's events (lifecycle, operations, devices) as they happen; --since SEQ first
replays those after SEQ from the service's buffer; --count N exits after N events. --json prints
one JSON object per line.
`;
  return runVerb('events', usage, async () => {
    const a = parseVerb(argv, usage, {
      sandbox: { type: 'string' },
      since: { type: 'string' },
      count: { type: 'string' },
    });
    if (!a) return EXIT.ok;
    const q = new URLSearchParams();
    if (typeof a.values.sandbox === 'string') q.set('sandbox', a.values.sandbox);
    if (typeof a.values.since === 'string') q.set('since', a.values.since);
    const count = a.values.count === undefined ? undefined : Number(a.values.count);
    if (count !== undefined && !(Number.isInteger(count) && count >= 1)) {
      throw new UsageError(`Expected \`--count\` to be a positive integer, got \`${a.values.count}\``);
    }
    const res = await open(a.socket, 'GET', `/events${q.size ? `?${q}` : ''}`);
    if ((res.statusCode ?? 0) >= 400) {
      const body = JSON.parse(await text(res)) as { message?: string };
      throw new ServiceRequestError(res.statusCode ?? 0, body.message ?? `HTTP ${res.statusCode}`, body);
    }
    let seen = 0;
    await new Promise<void>((resolve) => {
      const feed = sseFrames((f) => {
        if (f.event === 'gap') {
          process.stderr.write(
            `vmactor events: some events were dropped from the service's buffer: ${f.data}\n`,
          );
          return;
        }
        const e = JSON.parse(f.data) as Record<string, unknown>;
        process.stdout.write(`${a.json ? JSON.stringify(e) : describe(e)}\n`);
        seen += 1;
        if (count !== undefined && seen >= count) {
          res.destroy();
          resolve();
        }
      });
      res.setEncoding('utf8');
      res.on('data', feed);
      res.once('close', () => resolve());
    });
    return EXIT.ok;
  });
}

/** `vmactor console ID [--no-follow]`: the guest console, live. */
export function consoleVerb(argv: readonly string[]): Promise<number> {
  const usage = `usage: vmactor console ID [--no-follow] [--socket PATH]

Prints what the guest console printed, then follows it until the sandbox stops (Ctrl-C leaves).
`;
  return runVerb('console', usage, async () => {
    const a = parseVerb(argv, usage, { 'no-follow': { type: 'boolean' } }, { min: 1, max: 1 });
    if (!a) return EXIT.ok;
    const id = encodeURIComponent(a.positionals[0] as string);
    const follow = a.values['no-follow'] ? '0' : '1';
    const res = await open(a.socket, 'GET', `/sandboxes/${id}/console?follow=${follow}`);
    if ((res.statusCode ?? 0) >= 400) {
      const body = JSON.parse(await text(res)) as { message?: string };
      throw new ServiceRequestError(res.statusCode ?? 0, body.message ?? `HTTP ${res.statusCode}`, body);
    }
    await new Promise<void>((resolve) => {
      res.on('data', (c: Buffer) => process.stdout.write(c));
      res.once('close', () => resolve());
    });
    return EXIT.ok;
  });
}

/** `vmactor logs ID`: what the guest console printed so far. */
export function logs(argv: readonly string[]): Promise<number> {
  const usage = `usage: vmactor logs ID ${OPTS}\n\nPrints the guest console's log so far (--json: { id, console }).\n`;
  return runVerb('logs', usage, async () => {
    const a = parseVerb(argv, usage, {}, { min: 1, max: 1 });
    if (!a) return EXIT.ok;
    const id = a.positionals[0] as string;
    const out = await call<string>(a.socket, 'GET', `/sandboxes/${encodeURIComponent(id)}/logs`);
    if (a.json) process.stdout.write(`${JSON.stringify({ id, console: out ?? '' })}\n`);
    else process.stdout.write(out ?? '');
    return EXIT.ok;
  });
}
