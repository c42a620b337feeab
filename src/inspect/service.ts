// The service's inspector: one per supervisor, opened by `vmactor serve --inspect [PORT]` or `POST /inspector` (`vmactor inspect`).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Supervisor } from '../supervisor/supervisor.js';
import { type Inspector, inspect } from './inspect.js';

const open = new WeakMap<Supervisor, Promise<Inspector>>();

/**
 * The supervisor's inspector, opened on `port` (0: any free port) the first time; later calls get
 * the same one whatever port they ask for (its `url` says where it is).
 *
 * @example
 * ```ts
 * const { url } = await serviceInspector(svc.supervisor, { port: 7681 });
 * ```
 */
export function serviceInspector(
  supervisor: Supervisor,
  options: { port?: number } = {},
): Promise<Inspector> {
  let p = open.get(supervisor);
  if (!p) {
    p = inspect(supervisor, { ...options, logger: supervisor.logger });
    open.set(supervisor, p);
    p.catch(() => {
      if (open.get(supervisor) === p) open.delete(supervisor);
    });
  }
  return p;
}

/** Closes the supervisor's inspector, if one was opened. */
export async function closeServiceInspector(supervisor: Supervisor): Promise<void> {
  const p = open.get(supervisor);
  open.delete(supervisor);
  const inspector = await p?.catch(() => undefined);
  await inspector?.close();
}

const inspectorBody = z.strictObject({ port: z.int().min(0).max(65535).optional() });
const inspectorReply = z.object({ url: z.string(), port: z.int() });
const notOpen = z.object({ statusCode: z.literal(404), error: z.string(), message: z.string() });

/**
 * `POST /inspector` opens the service's inspector (or returns the open one) and answers its URL with
 * the token: the API socket is 0600, so whoever may drive the service may inspect it.
 * `GET /inspector` answers the URL if one is open (404 otherwise).
 */
export function inspectorRoutes(app: FastifyInstance, supervisor: Supervisor): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post('/inspector', {
    schema: {
      tags: ['service'],
      summary:
        'Opens the live inspector page on 127.0.0.1 (or returns the open one): its URL carries the token',
      body: inspectorBody.optional(),
      response: { 200: inspectorReply },
    },
    handler: async (req) => {
      const { url, port } = await serviceInspector(supervisor, req.body ?? {});
      return { url, port };
    },
  });
  r.get('/inspector', {
    schema: {
      tags: ['service'],
      summary: 'The open inspector, if any',
      response: { 200: inspectorReply, 404: notOpen },
    },
    handler: async (_req, reply) => {
      const p = open.get(supervisor);
      const inspector = await p?.catch(() => undefined);
      if (!inspector)
        return reply.code(404).send({
          statusCode: 404 as const,
          error: 'ERR_NOT_FOUND',
          message: 'No inspector is open (POST /inspector)',
        });
      return { url: inspector.url, port: inspector.port };
    },
  });
}
