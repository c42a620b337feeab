// The inspector's HTTP server (Fastify, 127.0.0.1 only): the page, its assets, the charts and the SSE stream, behind a token.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { machines } from '../../machines/index.js';
import { renderMachine } from './chart.js';
import { InspectListenError } from './errors.js';
import { pageHtml } from './page-html.js';
import { PAGE_JS } from './page-script.js';
import { PAGE_CSS } from './page-style.js';
import { INSPECT_PROTOCOL_VERSION, type InspectMachine, type InspectMessage } from './protocol.js';
import type { InspectRecorder } from './recorder.js';

/** The only address the inspector listens on. */
export const INSPECT_HOST = '127.0.0.1';

/** An SSE client further behind than this (bytes queued) is cut off; it reconnects and gets the replay. */
const MAX_CLIENT_BACKLOG = 8 * 1024 * 1024;

/** What every response carries: nothing fetched from elsewhere, the token never sent on as a referrer. */
const HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

/** A fresh random token (24 bytes, base64url), as Jupyter prints one with its URL. */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The token a request carries: `?token=` or `Authorization: Bearer`. */
function tokenOf(req: FastifyRequest): string | undefined {
  const fromQuery = new URL(req.url, 'http://x').searchParams.get('token');
  if (fromQuery !== null) return fromQuery;
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A Host header naming the loopback address (DNS-rebinding guard, as Jupyter's). */
function loopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  return /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i.test(host);
}

function sseFrame(m: InspectMessage): string {
  return `id: ${m.seq}\ndata: ${JSON.stringify(m)}\n\n`;
}

/** Replay after `Last-Event-ID` (a reconnect), else everything kept; then live, until either side closes. */
function streamMessages(recorder: InspectRecorder, req: FastifyRequest, reply: FastifyReply): void {
  const header = req.headers['last-event-id'];
  const raw = Array.isArray(header) ? header[0] : header;
  const after = raw !== undefined && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : 0;
  const res = reply.raw;
  reply.hijack();
  res.writeHead(200, {
    ...HEADERS,
    'content-type': 'text/event-stream; charset=utf-8',
    connection: 'keep-alive',
  });
  const replay = recorder.replay(after);
  res.write(
    `event: hello\ndata: ${JSON.stringify({ version: INSPECT_PROTOCOL_VERSION, lastSeq: recorder.lastSeq, replay: replay.length })}\n\n`,
  );
  for (const m of replay) res.write(sseFrame(m));
  const sub = recorder.batches$.subscribe({
    next: (batch) => {
      if (res.writableLength > MAX_CLIENT_BACKLOG) {
        res.destroy();
        return;
      }
      res.write(batch.map(sseFrame).join(''));
    },
    complete: () => res.end(),
  });
  res.once('close', () => sub.unsubscribe());
}

/** The chart SVG of each machine, laid out once per process. */
const chartCache = new Map<string, Promise<string>>();
function chartOf(machine: InspectMachine): Promise<string> {
  let p = chartCache.get(machine);
  if (!p) {
    p = renderMachine(machines[machine]).then((r) => r.svg);
    chartCache.set(machine, p);
  }
  return p;
}

/** Options of {@link listenInspector}. */
export interface InspectorServerOptions {
  /** TCP port on 127.0.0.1; 0 lets the kernel pick one. */
  readonly port: number;
  /** The token URLs must carry (default: {@link newToken}). */
  readonly token?: string;
}

/** A listening inspector server. */
export interface InspectorServer {
  readonly app: FastifyInstance;
  readonly port: number;
  readonly token: string;
  /** `http://127.0.0.1:PORT/?token=TOKEN`. */
  readonly url: string;
}

/**
 * Builds the inspector's Fastify app over a recorder and listens on 127.0.0.1: `GET /` the page,
 * `/assets/*` its script and style, `/charts/<machine>.svg` the elkjs charts, `/events` the SSE
 * stream (replay, then live), `/state` the latest snapshots as JSON. Every request needs the token
 * and a loopback Host header (403 otherwise).
 *
 * @example
 * ```ts
 * const { url, app } = await listenInspector(recorder, { port: 0 });
 * console.log(url); // http://127.0.0.1:41234/?token=…
 * await app.close();
 * ```
 */
export async function listenInspector(
  recorder: InspectRecorder,
  options: InspectorServerOptions,
): Promise<InspectorServer> {
  const token = options.token ?? newToken();
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 1024 });
  app.addHook('onRequest', async (req, reply) => {
    if (!loopbackHost(req.headers.host) || !sameToken(tokenOf(req), token)) {
      await reply
        .code(403)
        .headers(HEADERS)
        .type('text/plain; charset=utf-8')
        .send('403 Forbidden: open the URL with its token\n');
    }
  });
  const send = (reply: FastifyReply, type: string, body: string) =>
    reply.headers(HEADERS).type(type).send(body);
  app.get('/', (_req, reply) => send(reply, 'text/html; charset=utf-8', pageHtml(token)));
  app.get('/assets/inspector.js', (_req, reply) => send(reply, 'text/javascript; charset=utf-8', PAGE_JS));
  app.get('/assets/inspector.css', (_req, reply) => send(reply, 'text/css; charset=utf-8', PAGE_CSS));
  app.get<{ Params: { name: string } }>('/charts/:name', async (req, reply) => {
    const m = /^(sandbox|factory|supervisor)\.svg$/.exec(req.params.name);
    if (!m)
      return reply.code(404).headers(HEADERS).send({ error: 'ERR_NOT_FOUND', message: 'No such chart' });
    return send(reply, 'image/svg+xml; charset=utf-8', await chartOf(m[1] as InspectMachine));
  });
  app.get('/state', (_req, reply) =>
    reply.headers(HEADERS).send({
      version: INSPECT_PROTOCOL_VERSION,
      lastSeq: recorder.lastSeq,
      snapshots: recorder.snapshots(),
    }),
  );
  app.get('/events', (req, reply) => streamMessages(recorder, req, reply));
  try {
    await app.listen({ host: INSPECT_HOST, port: options.port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new InspectListenError(options.port, { cause: err });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return { app, port, token, url: `http://${INSPECT_HOST}:${port}/?token=${token}` };
}
