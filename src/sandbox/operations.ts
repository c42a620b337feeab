// Typed operations of the Sandbox handle: each op kind's result type, and input checks before anything is sent.
import type { ZodError } from 'zod';
import type { SandboxOperation, SandboxOperationKind } from '../../machines/operation.types.js';
import { DEVICE_ID_RE, DEVICE_ID_RULE } from '../devices/rules.js';
import { deviceSpecSchema } from '../devices/spec.js';
import type { OperationResult } from '../hotplug/types.js';
import { SandboxInputError, type SandboxInputIssue } from './errors.js';

/**
 * What `sb.operate(op)` resolves with for an op of kind `K` (`hotplug` → `HotplugResult`,
 * `resize-vcpus` → `ResizeVcpusResult`, …); `unknown` for kinds without a typed result.
 */
export type OperationResultOf<K extends SandboxOperationKind> = [
  Extract<OperationResult, { kind: K }>,
] extends [never]
  ? unknown
  : Extract<OperationResult, { kind: K }>;

type ZodIssue = ZodError['issues'][number];

/** `a.b[0].c` for a zod path under `root`. */
function pathOf(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out ? `.${String(k)}` : String(k);
  return out;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** `a string`, `an object`, … for zod's expected type names. */
function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function got(v: unknown): string {
  return v === undefined ? 'nothing' : `\`${JSON.stringify(v)}\``;
}

/** One zod issue in execa's style: ``Expected `device.file` to be an absolute path, got `"rel"` ``. */
function issueOf(root: string, input: unknown, issue: ZodIssue): SandboxInputIssue {
  const path = pathOf(root, issue.path);
  const value = valueAt(input, issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return {
        path,
        message: `Expected \`${path}\` to have no key ${issue.keys.map((k) => `\`${k}\``).join(', ')}`,
      };
    case 'invalid_type':
      return { path, message: `Expected \`${path}\` to be ${article(issue.expected)}, got ${got(value)}` };
    case 'invalid_union': {
      const options = (issue as { options?: readonly unknown[] }).options;
      const what = options ? `one of ${options.map((o) => `\`${String(o)}\``).join(', ')}` : 'valid';
      return { path, message: `Expected \`${path}\` to be ${what}, got ${got(value)}` };
    }
    default:
      return { path, message: `Expected \`${path}\` to be ${issue.message}, got ${got(value)}` };
  }
}

function positiveInt(path: string, v: unknown, issues: SandboxInputIssue[]): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    issues.push({ path, message: `Expected \`${path}\` to be a positive integer, got ${got(v)}` });
  }
}

function optionalNonNegativeInt(path: string, v: unknown, issues: SandboxInputIssue[]): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) {
    issues.push({ path, message: `Expected \`${path}\` to be a non-negative integer (ms), got ${got(v)}` });
  }
}

/**
 * Checks an operation before it is queued: a `hotplug` device through `deviceSpecSchema` (the
 * schema config's `devices` use), ids through the device-id rule, sizes and counts as positive
 * integers. Returns the op with the parsed device; throws {@link SandboxInputError} listing every problem.
 */
export function checkOperation<O extends SandboxOperation>(op: O): O {
  const issues: SandboxInputIssue[] = [];
  switch (op.kind) {
    case 'hotplug': {
      optionalNonNegativeInt('guestDeadlineMs', op.guestDeadlineMs, issues);
      const parsed = deviceSpecSchema.safeParse(op.device);
      if (!parsed.success) issues.push(...parsed.error.issues.map((i) => issueOf('device', op.device, i)));
      if (issues.length > 0) throw new SandboxInputError(issues);
      return parsed.success ? { ...op, device: parsed.data } : op;
    }
    case 'unplug':
      if (typeof op.id !== 'string' || !DEVICE_ID_RE.test(op.id)) {
        issues.push({ path: 'id', message: `Expected \`id\` to be ${DEVICE_ID_RULE}, got ${got(op.id)}` });
      }
      optionalNonNegativeInt('deviceDeletedMs', op.deviceDeletedMs, issues);
      break;
    case 'resize-memory':
      positiveInt('mib', op.mib, issues);
      optionalNonNegativeInt('memoryBlockSizeMiB', op.memoryBlockSizeMiB, issues);
      break;
    case 'resize-vcpus':
      positiveInt('count', op.count, issues);
      break;
    case 'hotplug-memory':
      positiveInt('mib', op.mib, issues);
      break;
    default:
      break;
  }
  if (issues.length > 0) throw new SandboxInputError(issues);
  return op;
}
