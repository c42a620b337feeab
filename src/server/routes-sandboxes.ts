// The /sandboxes routes: CRUD, lifecycle, devices, resize, console and logs, over the Supervisor.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Supervisor } from '../supervisor/supervisor.js';
import { wireEvent } from '../supervisor/wire-event.js';
import {
  consoleQuery,
  createBody,
  createQuery,
  deviceParams,
  errorResponses,
  hotplugBody,
  memoryBody,
  sandboxParams,
  sandboxSummary,
  vcpusBody,
} from './schemas.js';

const anyResult = z.record(z.string(), z.unknown());

/** Registers the sandbox routes on `app`. */
export function sandboxRoutes(app: FastifyInstance, supervisor: Supervisor): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['sandboxes'];

  r.get('/sandboxes', {
    schema: { tags, summary: 'List sandboxes', response: { 200: z.array(sandboxSummary) } },
    handler: async () => supervisor.list(),
  });

  r.post('/sandboxes', {
    schema: {
      tags,
      summary: 'Create a sandbox (nothing is launched until start); `?template=NAME` makes it a clone',
      querystring: createQuery,
      body: createBody,
      response: { 201: sandboxSummary, ...errorResponses },
    },
    handler: async (req, reply) => {
      const { template } = req.query;
      const created = await supervisor.create(req.body, template === undefined ? {} : { template });
      return reply.code(201).send(created);
    },
  });

  r.get('/sandboxes/:id', {
    schema: {
      tags,
      summary: 'Get a sandbox',
      params: sandboxParams,
      response: { 200: sandboxSummary, ...errorResponses },
    },
    handler: async (req) => supervisor.summary(req.params.id),
  });

  r.delete('/sandboxes/:id', {
    schema: {
      tags,
      summary: 'Stop (if needed) and remove a sandbox',
      params: sandboxParams,
      response: { 200: anyResult, ...errorResponses },
    },
    handler: async (req) => {
      await supervisor.remove(req.params.id);
      return { id: req.params.id, removed: true };
    },
  });

  for (const action of ['start', 'pause', 'resume'] as const) {
    r.post(`/sandboxes/:id/${action}`, {
      schema: {
        tags,
        summary: `${action[0]?.toUpperCase()}${action.slice(1)} a sandbox; answers once it is done`,
        params: sandboxParams,
        response: { 200: sandboxSummary, ...errorResponses },
      },
      handler: async (req) => {
        const { id } = req.params;
        if (action === 'start') await supervisor.start(id);
        else await supervisor.get(id)[action]();
        return supervisor.summary(id);
      },
    });
  }

  r.post('/sandboxes/:id/stop', {
    schema: {
      tags,
      summary: 'Stop a sandbox (idempotent); answers with how it ended',
      params: sandboxParams,
      response: { 200: anyResult, ...errorResponses },
    },
    handler: async (req) => {
      const out = await supervisor.get(req.params.id).stop();
      return { ...supervisor.summary(req.params.id), result: wireEvent(out as never) };
    },
  });

  r.get('/sandboxes/:id/devices', {
    schema: {
      tags: ['devices'],
      summary: 'The device record',
      params: sandboxParams,
      response: { 200: z.array(anyResult), ...errorResponses },
    },
    handler: async (req) =>
      supervisor
        .get(req.params.id)
        .devices()
        .map((d) => wireEvent(d as never)),
  });

  r.post('/sandboxes/:id/devices', {
    schema: {
      tags: ['devices'],
      summary: 'Hot-plug a device (the DeviceSpec a config takes)',
      params: sandboxParams,
      body: hotplugBody,
      response: { 201: anyResult, ...errorResponses },
    },
    handler: async (req, reply) => {
      const result = await supervisor.get(req.params.id).hotplug(req.body);
      return reply.code(201).send(wireEvent(result as never));
    },
  });

  r.delete('/sandboxes/:id/devices/:deviceId', {
    schema: {
      tags: ['devices'],
      summary: 'Unplug a device',
      params: deviceParams,
      response: { 200: anyResult, ...errorResponses },
    },
    handler: async (req) =>
      wireEvent((await supervisor.get(req.params.id).unplug(req.params.deviceId)) as never),
  });

  r.put('/sandboxes/:id/vcpus', {
    schema: {
      tags,
      summary: 'Set the number of vCPUs',
      params: sandboxParams,
      body: vcpusBody,
      response: { 200: anyResult, ...errorResponses },
    },
    handler: async (req) => {
      const { count, strict } = req.body;
      const sb = supervisor.get(req.params.id);
      return wireEvent((await sb.resizeVCPUs(count, strict === undefined ? {} : { strict })) as never);
    },
  });

  r.put('/sandboxes/:id/memory', {
    schema: {
      tags,
      summary: 'Resize guest memory (MiB, total)',
      params: sandboxParams,
      body: memoryBody,
      response: { 200: anyResult, ...errorResponses },
    },
    handler: async (req) =>
      wireEvent((await supervisor.get(req.params.id).resizeMemory(req.body.mib)) as never),
  });

  r.get('/sandboxes/:id/logs', {
    schema: { tags, summary: 'What the guest console printed so far (text)', params: sandboxParams },
    handler: async (req, reply) => {
      const text = await supervisor.get(req.params.id).consoleLog();
      return reply.type('text/plain; charset=utf-8').send(text);
    },
  });

  r.get('/sandboxes/:id/console', {
    schema: {
      tags,
      summary: 'The guest console as a stream of lines (text, chunked); ends when the console closes',
      params: sandboxParams,
      querystring: consoleQuery,
    },
    handler: async (req, reply) => {
      const sb = supervisor.get(req.params.id);
      const follow = req.query.follow !== '0' && req.query.follow !== 'false';
      const lines$ = sb.console$;
      const soFar = await sb.consoleLog();
      if (!follow || !lines$) return reply.type('text/plain; charset=utf-8').send(soFar);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
        'x-vmactor-service': '0.1.0',
      });
      raw.write(soFar);
      const sub = lines$.subscribe({ next: (l) => raw.write(`${l}\n`), complete: () => raw.end() });
      raw.once('close', () => sub.unsubscribe());
    },
  });
}
