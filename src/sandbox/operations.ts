// Typed operations of the Sandbox handle: each op kind's result type, and input checks before anything is sent.
import type { SandboxOperation, SandboxOperationKind } from '../../machines/operation.types.js';
import { parseDeviceSpec } from '../config/devices.js';
import { DEVICE_ID_RE, DEVICE_ID_RULE } from '../devices/rules.js';
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

function got(v: unknown): string {
  return v === undefined ? 'nothing' : `\`${JSON.stringify(v)}\``;
}

function positiveInt(path: string, v: unknown, issues: SandboxInputIssue[]): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    issues.push({ path, message: `Expected \`${path}\` to be a positive integer, got ${got(v)}` });
  }
}

function optionalNonNegativeInt(path: string, v: unknown, issues: SandboxInputIssue[], unit: string): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) {
    issues.push({
      path,
      message: `Expected \`${path}\` to be a non-negative integer (${unit}), got ${got(v)}`,
    });
  }
}

/** What {@link checkOperation} leaves to the operation provider. */
export interface CheckOptions {
  /**
   * The provider parses `hotplug` device specs itself (the same `deviceSpecSchema`, its own typed
   * error, before any QMP): the handle then checks only the operation's own fields.
   */
  readonly providerChecksDevices?: boolean;
}

/**
 * Checks an operation before it is queued: a `hotplug` device through `deviceSpecSchema` (with the
 * config's renderer: the words config `devices` get), ids through the device-id rule, sizes as
 * positive and counts as non-negative integers (what a count means is the provider's rule).
 * Returns the op with the parsed device; throws {@link SandboxInputError} listing every problem.
 */
export function checkOperation<O extends SandboxOperation>(op: O, options: CheckOptions = {}): O {
  const issues: SandboxInputIssue[] = [];
  switch (op.kind) {
    case 'hotplug': {
      optionalNonNegativeInt('guestDeadlineMs', op.guestDeadlineMs, issues, 'ms');
      if (options.providerChecksDevices) break;
      const parsed = parseDeviceSpec(op.device, 'device');
      if (!parsed.ok) issues.push(...parsed.issues.map((i) => ({ path: i.path, message: i.message })));
      if (issues.length > 0) throw new SandboxInputError(issues);
      return parsed.ok ? { ...op, device: parsed.device } : op;
    }
    case 'unplug':
      if (typeof op.id !== 'string' || !DEVICE_ID_RE.test(op.id)) {
        issues.push({ path: 'id', message: `Expected \`id\` to be ${DEVICE_ID_RULE}, got ${got(op.id)}` });
      }
      optionalNonNegativeInt('deviceDeletedMs', op.deviceDeletedMs, issues, 'ms');
      break;
    case 'resize-memory':
      positiveInt('mib', op.mib, issues);
      optionalNonNegativeInt('memoryBlockSizeMiB', op.memoryBlockSizeMiB, issues, 'MiB');
      break;
    case 'resize-vcpus':
      if (typeof op.count !== 'number' || !Number.isSafeInteger(op.count) || op.count < 0) {
        issues.push({
          path: 'count',
          message: `Expected \`count\` to be a non-negative integer, got ${got(op.count)}`,
        });
      }
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
