// The run dir's state.json: a versioned zod schema (version 1), what a restarted controller reads to reattach.
import { z } from 'zod';
import { SANDBOX_ID_RE } from '../devices/rules.js';
import { deviceSpecSchema } from '../devices/spec.js';

/** `schema` field of every state file. */
export const STATE_SCHEMA_NAME = 'vmactor.sandbox-state';
/** The state-file version this code writes; it reads every version up to it. */
export const STATE_VERSION = 1;
/** Version of the sandbox machine's phases/operations the state describes (bumped when they change meaning). */
export const MACHINE_VERSION = 1;

const pidStart = z.strictObject({
  pid: z.number().int().positive(),
  /** `/proc/PID/stat` field 22 (clock ticks since boot): the pid alone may be reused. */
  startTime: z.number().int().nonnegative(),
});

const placement = z
  .object({
    bus: z.string().optional(),
    addr: z.string().optional(),
    pciPath: z.string().optional(),
    devno: z.string().optional(),
    scsi: z
      .strictObject({ index: z.number().int(), scsiId: z.number().int(), lun: z.number().int() })
      .optional(),
    memSlot: z.number().int().optional(),
    sizeBytes: z.number().optional(),
    bridgeSlot: z.boolean().optional(),
  })
  .strict();

const backends = z.strictObject({
  node: z.string().optional(),
  netdev: z.string().optional(),
  chardev: z.string().optional(),
  objects: z.array(z.string()).optional(),
  fdNames: z.array(z.string()).optional(),
});

const deviceEntry = z.strictObject({
  id: z.string().min(1),
  origin: z.enum(['cold', 'hot']),
  spec: deviceSpecSchema,
  placement,
  backends,
  guestPath: z.string().optional(),
  pendingRemoval: z.boolean().optional(),
});

const bridgeEntry = z.strictObject({
  id: z.string(),
  type: z.enum(['pci', 'pcie', 'ccw']),
  bus: z.string().optional(),
  addr: z.number().int(),
  chassis: z.number().int(),
  maxCapacity: z.number().int(),
  devices: z.record(z.string(), z.string()),
});

/** The device record (src/devices/record-types.ts `DeviceRecordData`, version 1). */
export const deviceRecordSchema = z.strictObject({
  version: z.literal(1),
  devices: z.array(deviceEntry),
  bridges: z.array(bridgeEntry),
  rootPorts: z.record(z.string(), z.string().nullable()),
  vcpus: z.array(z.strictObject({ id: z.string(), props: z.record(z.string(), z.number()) })),
  nextVcpu: z.number().int().nonnegative(),
  dimms: z.array(
    z.strictObject({
      id: z.string(),
      backendId: z.string(),
      slot: z.number().int(),
      sizeMiB: z.number(),
      addr: z.number().optional(),
    }),
  ),
  hotpluggedMemoryMiB: z.number().nonnegative(),
  virtioMem: z
    .strictObject({
      id: z.string(),
      backendId: z.string(),
      regionMiB: z.number(),
      requestedMiB: z.number(),
      placement,
    })
    .nullable(),
});

/** An operation that had started (`requested`) and not settled when the state was written. */
const operationInFlight = z.strictObject({
  id: z.string(),
  kind: z.string(),
  /** The machine's operation object (`{ kind: 'hotplug', device }`, …), as data. */
  op: z.record(z.string(), z.unknown()),
  /** The last phase reported: `requested` (QMP may not have been sent) or `applied` (QEMU accepted). */
  phase: z.enum(['requested', 'applied']),
  /** The VM's phase when it started (a template save pauses; recovery resumes only if it was running). */
  vmPhase: z.enum(['running', 'paused']),
});

const paths = z.strictObject({
  runDir: z.string(),
  qmpSocket: z.string().optional(),
  consoleSocket: z.string().optional(),
  agentSocket: z.string().optional(),
  virtiofsdSocket: z.string().optional(),
  pidFile: z.string().optional(),
});

/** state.json, version 1. */
export const stateV1Schema = z.strictObject({
  schema: z.literal(STATE_SCHEMA_NAME),
  version: z.literal(1),
  machineVersion: z.literal(MACHINE_VERSION),
  sandboxId: z.string().regex(SANDBOX_ID_RE),
  /** Incremented on every write (a reader can tell two writes apart). */
  seq: z.number().int().nonnegative(),
  writtenAt: z.string(),
  /** The Node process controlling the sandbox; null after `detach()` (anyone may attach). */
  controller: pidStart.nullable(),
  /** The validated config (re-validated on read). */
  config: z.record(z.string(), z.unknown()),
  /** QEMU's argv as launched and its sha256 (checked against /proc/PID/cmdline on attach). */
  argv: z.array(z.string()).min(1),
  argvHash: z.string().regex(/^[0-9a-f]{64}$/),
  virtiofsdArgv: z.array(z.string()).nullable(),
  paths,
  /** The second QMP monitor (`qmp.sock`): the one a restarted controller connects to. */
  monitorSocket: z.string(),
  uuid: z.string().nullable(),
  accelerator: z.enum(['kvm', 'tcg']),
  qemu: pidStart.nullable(),
  virtiofsd: pidStart.nullable(),
  phase: z.enum(['created', 'starting', 'running', 'paused', 'stopping', 'stopped']),
  /** The device record: devices with placements, bridges and slots, hot-plugged vCPUs and memory. */
  devices: deviceRecordSchema.nullable(),
  /** Migration capabilities set on this QEMU (name → state); recovered by `query-migrate` on attach. */
  migrationCapabilities: z.record(z.string(), z.boolean()),
  operation: operationInFlight.nullable(),
});

/** state.json as this code reads and writes it. */
export type SandboxStateV1 = z.infer<typeof stateV1Schema>;
/** The current state-file shape. */
export type SandboxState = SandboxStateV1;
/** The in-flight operation field. */
export type OperationInFlight = NonNullable<SandboxState['operation']>;

/** Just enough to tell which version a file is before validating it. */
export const stateHeaderSchema = z.object({
  schema: z.literal(STATE_SCHEMA_NAME),
  version: z.number().int().positive(),
});
