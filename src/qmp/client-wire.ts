// Small pieces of the QMP client's wire handling: the pending-command record, the command head
// cache, greeting and event parsing, and deadline normalization.
import { QmpOptionError } from './errors.js';
import type { QmpWireObject } from './framing.js';
import type { QmpEvent } from './types.js';

/** Deadline of a command that gives none and whose client gives none (milliseconds). */
export const QMP_DEFAULT_TIMEOUT_MS = 30_000;

// setTimeout fires after 1 ms for delays above 2^31 - 1; longer deadlines are capped (24.8 days).
const MAX_TIMER_MS = 2_147_483_647;

/** Resolve or reject a pending command. */
export type OnReturn = (value: unknown) => void;
/** Reject a pending command. */
export type OnError = (err: Error) => void;

/** One in-flight command. A class with fixed fields keeps the hot path monomorphic. */
export class Pending {
  timer: NodeJS.Timeout | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  /** When it was written (`performance.now()`), only while a QMP observer listens; else 0. */
  sentAt = 0;
  constructor(
    readonly id: number,
    readonly command: string,
    readonly timeoutMs: number,
    readonly onReturn: OnReturn,
    readonly onError: OnError,
  ) {}
}

/** Arms `fn` after `ms` unless `ms` is `Infinity` (no deadline, asked for explicitly). */
export function armTimer<A>(ms: number, fn: (a: A) => void, arg: A): NodeJS.Timeout | undefined {
  return ms === Number.POSITIVE_INFINITY ? undefined : setTimeout(fn, Math.min(ms, MAX_TIMER_MS), arg);
}

/** `ms` if it is a valid deadline (> 0, or `Infinity`), else a {@link QmpOptionError}. */
export function checkTimeout(name: string, ms: number): QmpOptionError | undefined {
  return typeof ms === 'number' && ms > 0
    ? undefined
    : new QmpOptionError(
        `Expected \`${name}\` to be a positive number of milliseconds or Infinity, got \`${String(ms)}\``,
      );
}

/** True for a plain JSON object. */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

// `{"execute":"<cmd>",` per command name, built once (bounded: typed names plus a few untyped).
const heads = new Map<string, string>();

/** The constant head of a command line, cached per command name. */
export function executeHead(cmd: string): string {
  let h = heads.get(cmd);
  if (h === undefined) {
    h = `{"execute":${JSON.stringify(cmd)},`;
    if (heads.size < 512) heads.set(cmd, h);
  }
  return h;
}

/** A wire event as a {@link QmpEvent} with QEMU's timestamp as a `Date`. */
export function toEvent(msg: QmpWireObject, name: string): QmpEvent {
  const ts = msg.timestamp;
  let ms = Number.NaN;
  if (isRecord(ts) && typeof ts.seconds === 'number' && typeof ts.microseconds === 'number') {
    // QEMU reports {seconds, microseconds} since the epoch ({-1, -1} if its clock failed).
    ms = ts.seconds < 0 ? Number.NaN : ts.seconds * 1000 + Math.trunc(ts.microseconds / 1000);
  }
  return { event: name, data: isRecord(msg.data) ? msg.data : {}, timestamp: new Date(ms) };
}

/** QEMU's version as the greeting reports it. */
export interface QmpVersion {
  qemu: { major: number; minor: number; micro: number };
  package: string;
}

/** The version and capabilities of a greeting, or `undefined` when it is malformed. */
export function parseGreeting(
  msg: QmpWireObject,
): { version: QmpVersion; capabilities: string[] } | undefined {
  const qmp = msg.QMP;
  if (!isRecord(qmp) || !isRecord(qmp.version) || !Array.isArray(qmp.capabilities)) return undefined;
  const { qemu, package: pkg } = qmp.version;
  if (!isRecord(qemu) || typeof pkg !== 'string') return undefined;
  const { major, minor, micro } = qemu;
  if (typeof major !== 'number' || typeof minor !== 'number' || typeof micro !== 'number') return undefined;
  const capabilities: string[] = [];
  for (const c of qmp.capabilities) {
    if (typeof c !== 'string') return undefined;
    capabilities.push(c);
  }
  return { version: { qemu: { major, minor, micro }, package: pkg }, capabilities };
}
