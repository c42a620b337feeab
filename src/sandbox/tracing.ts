// OpenTelemetry spans per sandbox operation (a no-op unless the host app registers an SDK).
import { type Attributes, context, isSpanContextValid, SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('vmactor');

/**
 * Runs `fn` inside an active span `name` (like Kata's qemu.go `q.trace(name)`), recording errors.
 * Without an SDK the span is the API's no-op one, with no trace to join or continue: `fn` then runs
 * as it is, without the context switch and the extra promise (the cost of every `check()`).
 *
 * @example
 * ```ts
 * await withSpan('sandbox.check', { 'vmactor.sandbox.id': 'sb1' }, () => qmp.execute('query-status'));
 * ```
 */
export function withSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  const span = tracer.startSpan(name, { attributes });
  if (!span.isRecording() && !isSpanContextValid(span.spanContext())) {
    try {
      return fn();
    } catch (err) {
      return Promise.reject(err);
    }
  }
  // What `tracer.startActiveSpan` does, with the span already started.
  return context.with(trace.setSpan(context.active(), span), async () => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
      throw err;
    } finally {
      span.end();
    }
  });
}
