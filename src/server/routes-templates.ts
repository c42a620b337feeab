// The /templates routes: save a template VM as a template, list the saved ones (clones: POST /sandboxes?template=).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Supervisor } from '../supervisor/supervisor.js';
import { errorResponses, templateSaveBody, templateSummary } from './schemas.js';

/** Registers the template routes on `app`. */
export function templateRoutes(app: FastifyInstance, supervisor: Supervisor): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['templates'];

  r.get('/templates', {
    schema: { tags, summary: 'Saved templates, by name', response: { 200: z.array(templateSummary) } },
    handler: async () => supervisor.templates(),
  });

  r.post('/templates', {
    schema: {
      tags,
      summary:
        'Save a template VM (a sandbox created with hypervisor.bootToBeTemplate, running or paused) as the template of its id; answers once saved',
      body: templateSaveBody,
      response: { 201: templateSummary, ...errorResponses },
    },
    handler: async (req, reply) => {
      const { sandbox, keepRunning } = req.body;
      const saved = await supervisor.saveTemplate(sandbox, keepRunning === undefined ? {} : { keepRunning });
      return reply.code(201).send(saved);
    },
  });
}
