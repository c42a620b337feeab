// Errors → HTTP: status by error code, one JSON body naming the problem (never a stack).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { ConfigError } from '../config/config-error.js';
import { AdmissionError } from '../supervisor/errors.js';

/** Status of vmactor's error codes (anything else from vmactor is a 409 when it is about state, else 500). */
const STATUS: Readonly<Record<string, number>> = {
  ERR_CONFIG_INVALID: 400,
  ERR_SANDBOX_INPUT: 400,
  ERR_HOTPLUG_INVALID: 400,
  ERR_RUN_DIR_PATH: 400,
  ERR_SANDBOX_NOT_FOUND: 404,
  ERR_TEMPLATE_NOT_FOUND: 404,
  ERR_TEMPLATE_MISMATCH: 400,
  ERR_TEMPLATE_INPUT: 409,
  ERR_HOTPLUG_UNKNOWN_DEVICE: 404,
  ERR_ADMISSION: 409,
  ERR_SANDBOX_STATE: 409,
  ERR_OPERATION_NOT_ACTIVE: 409,
  ERR_OPERATION_NO_CAPACITY: 409,
  ERR_HOTPLUG_NO_CAPACITY: 409,
  ERR_HOTPLUG_DUPLICATE_ID: 409,
  ERR_OPERATION_DUPLICATE_ID: 409,
  ERR_HOTPLUG_NOT_SUPPORTED: 409,
  ERR_HOTPLUG_VCPUS: 409,
  ERR_RUN_DIR: 409,
  ERR_VSOCK_CID_IN_USE: 409,
};

interface Issue {
  path: string;
  message: string;
}

/** `body.devices[0].kind`-style path from a validation context and an instance path (`/devices/0/kind`). */
function issuePath(context: string, instancePath: string): string {
  let out = context;
  for (const p of instancePath.split('/').filter(Boolean)) {
    out += /^\d+$/.test(p) ? `[${p}]` : `${out ? '.' : ''}${p}`;
  }
  return out;
}

/** Zod issues as `{ path, message }`, unknown keys named one by one. */
function zodIssues(err: FastifyError): Issue[] {
  const out: Issue[] = [];
  const context = (err as { validationContext?: string }).validationContext ?? 'body';
  for (const v of err.validation ?? []) {
    const path = issuePath(context, v.instancePath ?? '');
    const keys = (v.params as { keys?: unknown } | undefined)?.keys;
    if (v.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
      for (const k of keys)
        out.push({ path: `${path}.${String(k)}`, message: `Unknown field \`${String(k)}\`` });
    } else out.push({ path, message: v.message ?? 'invalid' });
  }
  return out;
}

/** The service's error handler: validation → 400 listing each field, vmactor errors by code, framework 4xx as given. */
export function errorHandler(
  logger: Logger,
): (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => FastifyReply {
  return (err, req, reply) => sendError(logger, err, req, reply);
}

function sendError(
  logger: Logger,
  err: FastifyError,
  req: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = zodIssues(err);
    const message = `Invalid request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`;
    return reply.code(400).send({ statusCode: 400, error: 'ERR_REQUEST_INVALID', message, issues });
  }
  if (err instanceof ConfigError) {
    return reply
      .code(400)
      .send({ statusCode: 400, error: err.code, message: err.message, issues: err.issues });
  }
  if (err instanceof AdmissionError) {
    return reply
      .code(409)
      .send({ statusCode: 409, error: err.code, message: err.message, reason: err.reason });
  }
  const code = typeof err.code === 'string' ? err.code : 'ERR_INTERNAL';
  const known = STATUS[code];
  if (known !== undefined)
    return reply.code(known).send({ statusCode: known, error: code, message: err.message });
  const status = err.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return reply.code(status).send({ statusCode: status, error: code, message: err.message });
  }
  logger.error({ err, method: req.method, url: req.url }, 'request failed');
  return reply.code(500).send({ statusCode: 500, error: code, message: err.message });
}
