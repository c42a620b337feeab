// Observability: one OpenTelemetry span per sandbox operation (seen through a recording provider
// registered like a host app's SDK), and the sandbox's pino child logger carrying `sandboxId`.
import { rmSync } from 'node:fs';
import {
  type Attributes,
  context,
  type Span,
  type SpanStatus,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { descendants, leftovers } from '../helpers/census.js';
import { QEMU } from '../helpers/env.js';
import { bareSpec, openTracked, stopAll, tempRunBase } from './sandbox-fixtures.js';

interface Recorded {
  name: string;
  attributes: Attributes;
  status?: SpanStatus;
  ended: boolean;
}

const recorded: Recorded[] = [];

function recordingSpan(name: string, attributes: Attributes): Span {
  const rec: Recorded = { name, attributes: { ...attributes }, ended: false };
  recorded.push(rec);
  const span: Span = {
    spanContext: () => ({ traceId: `${'0'.repeat(31)}1`, spanId: `${'0'.repeat(15)}1`, traceFlags: 1 }),
    setAttribute: (k, v) => {
      if (v !== undefined) rec.attributes[k] = v;
      return span;
    },
    setAttributes: (a) => {
      Object.assign(rec.attributes, a);
      return span;
    },
    addEvent: () => span,
    addLink: () => span,
    addLinks: () => span,
    setStatus: (s) => {
      rec.status = s;
      return span;
    },
    updateName: (n) => {
      rec.name = n;
      return span;
    },
    end: () => {
      rec.ended = true;
    },
    isRecording: () => true,
    recordException: () => {},
  };
  return span;
}

const tracer = {
  startSpan: (name: string, options?: { attributes?: Attributes }) =>
    recordingSpan(name, options?.attributes ?? {}),
  startActiveSpan: (name: string, ...rest: unknown[]) => {
    const fn = rest.at(-1) as (span: Span) => unknown;
    const options = (rest.length > 1 ? rest[0] : {}) as { attributes?: Attributes };
    const span = recordingSpan(name, options.attributes ?? {});
    return context.with(trace.setSpan(context.active(), span), () => fn(span));
  },
} as unknown as Tracer;

const provider: TracerProvider = { getTracer: () => tracer };

const base = tempRunBase();
beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
});
afterEach(stopAll);
afterAll(() => {
  trace.disable();
  rmSync(base, { recursive: true, force: true });
});

describe('sandbox observability', () => {
  it('records one span per operation, and logs through a child logger with sandboxId', async () => {
    const logs: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => logs.push(JSON.parse(l)) });
    const spec = bareSpec(QEMU as string);
    const sb = openTracked(spec, { runDir: base, logger });
    await sb.start();
    await sb.pause();
    await sb.resume();
    await sb.check();
    await sb.getThreadIDs();
    await sb.stop();
    const names = recorded.map((r) => r.name);
    for (const op of [
      'sandbox.start',
      'sandbox.launch',
      'sandbox.pause',
      'sandbox.resume',
      'sandbox.check',
      'sandbox.getThreadIDs',
      'sandbox.stop',
      'sandbox.shutdown',
    ]) {
      expect(names).toContain(op);
    }
    expect(recorded.every((r) => r.ended)).toBe(true);
    expect(recorded.every((r) => r.attributes['vmactor.sandbox.id'] === spec.id)).toBe(true);
    expect(recorded.find((r) => r.name === 'sandbox.shutdown')?.attributes['vmactor.stop.reason']).toBe(
      'requested',
    );
    const lifecycle = logs.filter((l) => typeof l.msg === 'string' && String(l.msg).startsWith('sandbox '));
    expect(lifecycle.map((l) => l.msg)).toEqual([
      'sandbox created -> starting',
      'sandbox starting -> running',
      'sandbox running -> paused',
      'sandbox paused -> running',
      'sandbox running -> stopping',
      'sandbox stopping -> stopped',
    ]);
    expect(lifecycle.every((l) => l.sandboxId === spec.id)).toBe(true);
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it('marks the span of a failed start as an error', async () => {
    recorded.length = 0;
    const sb = openTracked(bareSpec(QEMU as string, { extra: ['-device', 'no-such-device-vmactor'] }), {
      runDir: base,
      logger: pino({ level: 'silent' }),
    });
    await expect(sb.start()).rejects.toThrow(/exited early/);
    expect(recorded.find((r) => r.name === 'sandbox.start')?.status?.code).toBe(2);
    expect(recorded.find((r) => r.name === 'sandbox.launch')?.status?.message).toMatch(
      /no-such-device-vmactor/,
    );
  });
});
