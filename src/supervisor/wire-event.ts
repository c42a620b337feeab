// SandboxEvent → plain JSON (errors as `{ name, code, message }`), as the service and `--json` print them.
import type { SandboxEvent } from '../sandbox/events.js';

/** An error as data. */
export interface WireError {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
}

/** A sandbox event or a supervisor event, JSON-safe. */
export type WireEvent = { readonly type: string; readonly sandboxId: string; readonly at: number } & Record<
  string,
  unknown
>;

/** Any thrown value as data. */
export function wireError(err: unknown): WireError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, ...(typeof code === 'string' ? { code } : {}), message: err.message };
  }
  return { name: 'Error', message: String(err) };
}

/** Deep copy with every `Error` replaced by {@link wireError} (cycles cut, functions dropped). */
function plain(value: unknown, seen: WeakSet<object>): unknown {
  if (value instanceof Error) return wireError(value);
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => plain(v, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const p = plain(v, seen);
    if (p !== undefined) out[k] = p;
  }
  return out;
}

/** A sandbox event as JSON-safe data (same fields, errors as {@link WireError}). */
export function wireEvent(e: SandboxEvent): WireEvent {
  return plain(e, new WeakSet()) as WireEvent;
}
