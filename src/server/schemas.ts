// Request and response schemas of the service, built from the config/device zod definitions (OpenAPI from them).
import { z } from 'zod';
import { SANDBOX_PHASES } from '../../machines/sandbox.types.js';
import { sandboxConfigSchema, sandboxIdSchema } from '../config/schema.js';
import { DEVICE_ID_RE } from '../devices/rules.js';
import { deviceSpecSchema } from '../devices/spec.js';
import { templateSchema } from '../sandbox/template/template-file.js';

/** `/sandboxes/{id}`: the sandbox id, checked like a config's `id` (no `..`, no `/`). */
export const sandboxParams = z.strictObject({ id: sandboxIdSchema });

/** `/sandboxes/{id}/devices/{deviceId}`. */
export const deviceParams = z.strictObject({
  id: sandboxIdSchema,
  deviceId: z.string().regex(DEVICE_ID_RE).describe('Device id'),
});

/** `POST /sandboxes`: a SandboxConfig (JSON; the CLI turns Kata TOML into this). */
export const createBody = sandboxConfigSchema;

/** `POST /sandboxes` query: `template` makes the sandbox a clone of that saved template. */
export const createQuery = z.strictObject({
  template: sandboxIdSchema.optional().describe('Boot from this saved template (GET /templates)'),
});

/** `POST /templates`: save a template VM (created with `hypervisor.bootToBeTemplate`) as the template of its id. */
export const templateSaveBody = z.strictObject({
  sandbox: sandboxIdSchema.describe('The running or paused template VM to save'),
  keepRunning: z.boolean().optional().describe('Keep the template VM (paused) instead of stopping it'),
});

/** A saved template as the service lists it: `template.json` without the template VM's config. */
export const templateSummary = templateSchema
  .omit({ version: true, config: true, memoryFile: true, stateFile: true })
  .extend({
    name: z.string().describe('The template name: the id of the sandbox it was saved from'),
    dir: z.string().describe('The template dir (memory, devices.state, template.json)'),
  });

/** `POST /sandboxes/{id}/devices`: the same DeviceSpec a config's `devices` take. */
export const hotplugBody = deviceSpecSchema;

/** `PUT /sandboxes/{id}/vcpus`. */
export const vcpusBody = z.strictObject({
  count: z.int().min(1).max(512).describe('vCPUs wanted'),
  strict: z.boolean().optional().describe('Refuse (instead of clamping) above max vCPUs'),
});

/** `PUT /sandboxes/{id}/memory`. */
export const memoryBody = z.strictObject({
  mib: z.int().min(1).describe('Guest memory wanted in total, MiB'),
});

/** `GET /events` query. */
export const eventsQuery = z.strictObject({
  since: z.coerce.number().int().min(0).optional().describe('Replay events after this sequence number'),
  sandbox: sandboxIdSchema.optional().describe('Only this sandbox'),
});

/** `GET /sandboxes/{id}/console` query. */
export const consoleQuery = z.strictObject({
  follow: z.enum(['0', '1', 'true', 'false']).optional().describe('Keep streaming new lines (default true)'),
});

/** A sandbox as the service reports it. */
export const sandboxSummary = z.object({
  id: z.string(),
  phase: z.enum(SANDBOX_PHASES),
  qemuPid: z.int().nullable(),
  virtiofsdPid: z.int().nullable(),
  memoryMiB: z.number(),
  vcpus: z.int(),
  devices: z.array(
    z.object({ id: z.string(), kind: z.string(), origin: z.string(), guestPath: z.string().optional() }),
  ),
  runDir: z.string(),
  createdAt: z.string(),
  stopReason: z.string().nullable(),
});

/** Every error response: a code, a message naming the problem, and the details when there are any. */
export const errorBody = z.object({
  statusCode: z.int(),
  error: z.string().describe('Stable code, e.g. ERR_CONFIG_INVALID'),
  message: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  reason: z.string().optional(),
});

/** The error responses every route may give. */
export const errorResponses = { 400: errorBody, 404: errorBody, 409: errorBody, 500: errorBody } as const;
