// Server-Sent Events of the host's event stream: `id:` is the sequence number; `Last-Event-ID` resumes from the buffer.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sequenced } from '../supervisor/event-log.js';
import type { HostEvent, Supervisor } from '../supervisor/supervisor.js';

/** One SSE frame: `id: <seq>`, `data: <json>`. */
export function sseFrame(item: Sequenced<HostEvent>): string {
  return `id: ${item.seq}\ndata: ${JSON.stringify({ seq: item.seq, ...item.event })}\n\n`;
}

/** Where a client resumes: `Last-Event-ID` (a reconnecting EventSource), else `?since`, else live only. */
export function resumePoint(req: FastifyRequest, since: number | undefined, lastSeq: number): number {
  const header = req.headers['last-event-id'];
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw !== undefined && /^\d+$/.test(raw.trim())) return Number(raw.trim());
  return since ?? lastSeq;
}

/**
 * Streams events after `after` (replayed from the bounded buffer, then live) until the client goes
 * away or the supervisor closes. A `gap` event first says when some were dropped from the buffer.
 * Replay and subscription happen in one tick, so no event falls between them.
 */
export function streamEvents(
  supervisor: Supervisor,
  reply: FastifyReply,
  after: number,
  sandbox: string | undefined,
): void {
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-vmactor-service': '0.1.0',
  });
  const wanted = (item: Sequenced<HostEvent>) => sandbox === undefined || item.event.sandboxId === sandbox;
  const { events, gap } = supervisor.events.since(after);
  if (gap) raw.write(`event: gap\ndata: ${JSON.stringify({ after, oldest: events[0]?.seq ?? null })}\n\n`);
  raw.write(': vmactor events\n\n');
  for (const item of events) if (wanted(item)) raw.write(sseFrame(item));
  const sub = supervisor.events.events$.subscribe({
    next: (item) => {
      if (wanted(item)) raw.write(sseFrame(item));
    },
    complete: () => raw.end(),
  });
  raw.once('close', () => sub.unsubscribe());
}
