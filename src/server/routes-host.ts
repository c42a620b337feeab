// Host routes: health, metrics, the OpenAPI document, the SSE event stream.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { ServiceMetrics } from './metrics.js';
import { eventsQuery } from './schemas.js';
import { resumePoint, streamEvents } from './sse.js';

/** Registers the host routes on `app`. */
export function hostRoutes(app: FastifyInstance, supervisor: Supervisor, metrics: ServiceMetrics): void {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get('/health', {
    schema: {
      tags: ['service'],
      summary: 'Liveness and counts',
      response: {
        200: z.object({
          status: z.literal('ok'),
          state: z.string(),
          sandboxes: z.int(),
          lastEventSeq: z.int(),
          pid: z.int(),
        }),
      },
    },
    handler: async () => ({
      status: 'ok' as const,
      state: supervisor.state,
      sandboxes: supervisor.list().length,
      lastEventSeq: supervisor.events.lastSeq,
      pid: process.pid,
    }),
  });

  r.get('/metrics', {
    schema: { tags: ['service'], summary: 'Prometheus metrics (text format)' },
    handler: async (_req, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  });

  r.get('/openapi.json', {
    schema: { hide: true },
    handler: async () => app.swagger(),
  });

  r.get('/events', {
    schema: {
      tags: ['events'],
      summary:
        'Every event of every sandbox as Server-Sent Events; `id` is the sequence number, `Last-Event-ID` resumes',
      querystring: eventsQuery,
    },
    handler: async (req, reply) => {
      const after = resumePoint(req, req.query.since, supervisor.events.lastSeq);
      streamEvents(supervisor, reply, after, req.query.sandbox);
    },
  });
}
