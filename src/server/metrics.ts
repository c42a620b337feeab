// Prometheus metrics of the service (prom-client): sandboxes by phase, operation, QMP and request latencies.
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import { SANDBOX_PHASES } from '../../machines/sandbox.types.js';
import { setQmpObserver } from '../qmp/observer.js';
import type { Supervisor } from '../supervisor/supervisor.js';

/** The service's registry and the hooks that feed it. */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** Records one HTTP request's duration. */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Stops following the supervisor's events. */
  close(): void;
}

/** QMP round trips on this host take tens of µs (query-status) to seconds (migrate, device_del under TCG). */
const QMP_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10];

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Builds the registry: `vmactor_sandboxes{phase}` (read from the supervisor at scrape time),
 * `vmactor_operation_duration_seconds{kind,outcome}` (requested → confirmed/failed, from the event
 * stream), `vmactor_lifecycle_duration_seconds{transition}` (starting → running, stopping → stopped),
 * `vmactor_qmp_roundtrip_seconds{command,outcome}` (every QMP command of every sandbox, written →
 * reply read, through the QMP layer's observer: installed here, removed by `close()`),
 * `vmactor_http_request_duration_seconds{method,route,status}`, and Node's default process metrics.
 */
export function createServiceMetrics(supervisor: Supervisor): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vmactor_' });
  new Gauge({
    name: 'vmactor_sandboxes',
    help: 'Sandboxes held by the service, by phase',
    labelNames: ['phase'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(SANDBOX_PHASES.map((p) => [p, 0]));
      for (const s of supervisor.list()) counts.set(s.phase, (counts.get(s.phase) ?? 0) + 1);
      for (const [phase, n] of counts) this.set({ phase }, n);
    },
  });
  const operations = new Histogram({
    name: 'vmactor_operation_duration_seconds',
    help: 'Modifying operations (hotplug, unplug, resize), requested to confirmed or failed',
    labelNames: ['kind', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const lifecycle = new Histogram({
    name: 'vmactor_lifecycle_duration_seconds',
    help: 'Lifecycle steps: starting to running (start), stopping to stopped (stop)',
    labelNames: ['transition'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const requests = new Histogram({
    name: 'vmactor_http_request_duration_seconds',
    help: 'API requests, by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const qmp = new Histogram({
    name: 'vmactor_qmp_roundtrip_seconds',
    help: 'QMP commands of every sandbox, written to reply read, by command and outcome (ok, error)',
    labelNames: ['command', 'outcome'],
    buckets: QMP_BUCKETS,
    registers: [registry],
  });
  // One labelled child per command and outcome, looked up once: the observer runs on every reply.
  const children = new Map<string, { observe(v: number): void }>();
  const observer = (command: string, seconds: number, outcome: 'ok' | 'error') => {
    const key = `${command} ${outcome}`;
    let child = children.get(key);
    if (!child) {
      child = qmp.labels({ command, outcome });
      children.set(key, child);
    }
    child.observe(seconds);
  };
  const previous = setQmpObserver(observer);
  const opStart = new Map<string, number>();
  const phaseAt = new Map<string, number>();
  const sub: Subscription = supervisor.events.events$.subscribe(({ event: e }) => {
    if (e.type === 'operation') {
      const key = `${e.sandboxId}/${String(e.id)}`;
      if (e.phase === 'requested') opStart.set(key, e.at);
      else if (e.phase === 'confirmed' || e.phase === 'failed') {
        const t0 = opStart.get(key);
        opStart.delete(key);
        if (t0 !== undefined)
          operations.observe({ kind: String(e.kind), outcome: e.phase }, (e.at - t0) / 1000);
      }
    } else if (e.type === 'lifecycle') {
      const t0 = phaseAt.get(e.sandboxId);
      if (t0 !== undefined && e.from === 'starting' && e.to === 'running')
        lifecycle.observe({ transition: 'start' }, (e.at - t0) / 1000);
      if (t0 !== undefined && e.from === 'stopping' && e.to === 'stopped')
        lifecycle.observe({ transition: 'stop' }, (e.at - t0) / 1000);
      if (e.to === 'stopped') phaseAt.delete(e.sandboxId);
      else phaseAt.set(e.sandboxId, e.at);
    }
  });
  return {
    registry,
    observeRequest: (method, route, status, seconds) =>
      requests.observe({ method, route, status: String(status) }, seconds),
    close: () => {
      sub.unsubscribe();
      setQmpObserver(previous);
    },
  };
}
