// The service's Fastify app: zod validation and OpenAPI from the config/device schemas, the routes, errors, metrics.
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { inspectorRoutes } from '../inspect/service.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { errorHandler } from './errors.js';
import { createServiceMetrics, type ServiceMetrics } from './metrics.js';
import { hostRoutes } from './routes-host.js';
import { sandboxRoutes } from './routes-sandboxes.js';
import { templateRoutes } from './routes-templates.js';

/** Options of {@link buildApp}. */
export interface AppOptions {
  /** Largest request body, bytes (default 1 MiB): larger is a 413 before it is read. */
  readonly bodyLimit?: number;
  readonly logger?: Logger;
}

/** Sent as `x-vmactor-service` on every response. */
export const SERVICE_VERSION = '0.1.0';

/** Default {@link AppOptions.bodyLimit}. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * The HTTP/JSON API over a {@link Supervisor} (not listening yet). Request bodies are checked by
 * the same zod schemas as config and device validation (unknown fields refused by name); the
 * OpenAPI document is generated from them at `/openapi.json`.
 *
 * @example
 * ```ts
 * const app = await buildApp(supervisor);
 * await app.listen({ path: '/run/vmactor/.service/api.sock' });
 * ```
 */
export async function buildApp(
  supervisor: Supervisor,
  options: AppOptions = {},
): Promise<{ app: FastifyInstance; metrics: ServiceMetrics }> {
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logger: false,
    return503OnClosing: true,
    // Event and console streams are long-lived: closing the service ends them.
    forceCloseConnections: true,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler(options.logger ?? supervisor.logger));
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ statusCode: 404, error: 'ERR_NOT_FOUND', message: `No route ${req.method} ${req.url}` }),
  );
  const metrics = createServiceMetrics(supervisor);
  // Callback-style hooks (no promise per request): these run on every request, the pause benchmark's path.
  // Clients check this header: a socket that answers without it is not a vmactor service. Set as the
  // request arrives, so every answer carries it (404s, 413s and errors too).
  app.addHook('onRequest', (_req, reply, done) => {
    reply.header('x-vmactor-service', SERVICE_VERSION);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    metrics.observeRequest(
      req.method,
      req.routeOptions.url ?? 'unknown',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
  app.addHook('onClose', async () => metrics.close());
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'vmactor service',
        description: 'QEMU sandboxes of one host over a Unix socket (vmactor serve)',
        version: '0.1.0',
      },
    },
    transform: jsonSchemaTransform,
  });
  hostRoutes(app, supervisor, metrics);
  sandboxRoutes(app, supervisor);
  templateRoutes(app, supervisor);
  inspectorRoutes(app, supervisor);
  await app.ready();
  return { app, metrics };
}
