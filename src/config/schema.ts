// The zod schema of a whole SandboxConfig input (id, the knob table's hypervisor, DeviceSpec devices) and its JSON Schema.
import { z } from 'zod';
import { isSandboxId, SANDBOX_ID_RE } from '../devices/rules.js';
import { deviceSpecSchema } from '../devices/spec.js';
import { hypervisorInputSchema } from './hypervisor.js';
import { text } from './knob-types.js';

/** A sandbox id: ASCII `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$` without `..` (`isSandboxId`). */
export const sandboxIdSchema = z
  .string()
  .regex(SANDBOX_ID_RE)
  .refine(isSandboxId, `an ASCII id matching ${SANDBOX_ID_RE} without \`..\``)
  .describe('Sandbox id: names the run dir and sockets');

/**
 * The structure of a SandboxConfig, built from the same definitions `validateConfig` checks with:
 * the knob table's types for `hypervisor`, `deviceSpecSchema` for `devices`. Cross-field rules
 * (image vs initrd, vCPU limits, unique ids …) are `validateConfig`'s, not this schema's.
 */
export const sandboxConfigSchema = z.strictObject({
  $schema: text.optional().describe('JSON Schema reference for editors; ignored'),
  id: sandboxIdSchema,
  hypervisor: hypervisorInputSchema
    .optional()
    .describe('Hypervisor knobs; every one optional, with defaults'),
  devices: z
    .array(deviceSpecSchema)
    .optional()
    .describe('Cold-plugged devices (the DeviceSpec hot plug takes)'),
});

/**
 * The JSON Schema (draft 2020-12) of a SandboxConfig as a user writes it, for the service's API,
 * editors (`"$schema"`) and docs.
 *
 * @example
 * const schema = sandboxConfigJsonSchema();
 * schema.properties.devices.items; // the DeviceSpec union
 */
export function sandboxConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(sandboxConfigSchema, { io: 'input' }) as Record<string, unknown>;
}
