// inspect(target, { port }): the live inspector of a Sandbox, a VM factory or a Supervisor, in the caller's own process.
import type { Logger } from 'pino';
import type { VmFactory } from '../factory/factory.js';
import { Sandbox } from '../sandbox/sandbox.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { InspectOptionsError, InspectTargetError } from './errors.js';
import { InspectRecorder, type RecorderLimits } from './recorder.js';
import { type Detach, watchFactory, watchSandbox, watchSupervisor } from './sources.js';

/** What {@link inspect} watches. */
export type InspectTarget = Sandbox | VmFactory | Supervisor | readonly Sandbox[];

/** Options of {@link inspect}. */
export interface InspectOptions {
  /** TCP port on 127.0.0.1 (never another address). Default 0: the kernel picks a free one (see `url`). */
  readonly port?: number;
  /** Timeline entries kept per actor for a page opened late (default 300). */
  readonly replayPerActor?: number;
  /** How often the page is sent what happened, ms (1–10 000; default 250, see `RecorderLimits.batchMs`). */
  readonly batchMs?: number;
  /** A factory's name in the page (default `factory`). */
  readonly name?: string;
  /** Logs the URL at info level when given. */
  readonly logger?: Logger;
}

/** A running inspector. */
export interface Inspector {
  /** `http://127.0.0.1:PORT/?token=TOKEN`: open it in a browser (requests without the token get 403). */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  /** The record the page is fed from (numbered vmactor protocol messages). */
  readonly recorder: InspectRecorder;
  /** Stops watching and closes the server (open pages see the stream end). Idempotent. */
  close(): Promise<void>;
}

function isFactory(t: unknown): t is VmFactory {
  const f = t as Partial<VmFactory> | null;
  return (
    typeof f === 'object' &&
    f !== null &&
    typeof f.get === 'function' &&
    f.vms$ !== undefined &&
    f.actor !== undefined
  );
}

/** An optional integer option in `[min, max]`, or an {@link InspectOptionsError} naming it. */
function checkInt(name: string, v: number | undefined, min: number, max: number): void {
  if (v === undefined || (Number.isInteger(v) && v >= min && v <= max)) return;
  throw new InspectOptionsError(
    `Expected \`${name}\` to be an integer in ${min}–${max}, got \`${String(v)}\``,
  );
}

/** The recorder limits `options` set. */
function recorderLimits(options: InspectOptions): Partial<RecorderLimits> {
  checkInt('replayPerActor', options.replayPerActor, 1, Number.MAX_SAFE_INTEGER);
  checkInt('batchMs', options.batchMs, 1, 10_000);
  return {
    ...(options.replayPerActor === undefined ? {} : { replayPerActor: options.replayPerActor }),
    ...(options.batchMs === undefined ? {} : { batchMs: options.batchMs }),
  };
}

function checkPort(port: unknown): number {
  if (port === undefined) return 0;
  if (typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535) return port;
  throw new InspectOptionsError(
    `Expected \`port\` to be an integer from 0 to 65535, got \`${String(port)}\``,
  );
}

/** Starts watching a target; throws {@link InspectTargetError} for anything else. */
export function watchTarget(recorder: InspectRecorder, target: InspectTarget, name = 'factory'): Detach {
  if (target instanceof Sandbox) return watchSandbox(recorder, target);
  if (target instanceof Supervisor) return watchSupervisor(recorder, target);
  if (isFactory(target)) return watchFactory(recorder, target, name);
  if (Array.isArray(target) && target.every((t) => t instanceof Sandbox)) {
    const detaches = (target as readonly Sandbox[]).map((sb) => watchSandbox(recorder, sb));
    return () => {
      for (const d of detaches) d();
    };
  }
  throw new InspectTargetError(
    'Expected a Sandbox, a VM factory, a Supervisor or an array of Sandboxes to inspect',
  );
}

/**
 * Opens the live inspector for a sandbox (or several), a VM factory or a supervisor: an HTTP page
 * on 127.0.0.1 only, at a URL with a random token (as Jupyter prints one), showing every actor with
 * its phase and, for the one selected, its state chart with the active states highlighted, the
 * event timeline (lifecycle, operation phases, QMP events, process exits), the device record and
 * the operation queue — live over SSE. A page opened late gets the current snapshot and the last
 * `replayPerActor` events. Built on XState's inspection API (`actor.system.inspect`), normalized
 * into vmactor's own protocol (src/inspect/protocol.ts); the observers only hand references over,
 * converted in a later batch, so inspecting never slows the sandbox's own step.
 *
 * The web server (Fastify) is loaded only when `inspect()` is called.
 *
 * @example
 * ```ts
 * import { createSandbox, inspect } from 'vmactor';
 * const sb = await createSandbox(config);
 * const inspector = await inspect(sb, { port: 7681 });
 * console.log(`inspector: ${inspector.url}`);
 * await sb.start();
 * // …
 * await inspector.close();
 * ```
 */
export async function inspect(target: InspectTarget, options: InspectOptions = {}): Promise<Inspector> {
  const port = checkPort(options.port);
  const limits = recorderLimits(options);
  const recorder = new InspectRecorder(limits);
  const detach = watchTarget(recorder, target, options.name);
  let server: Awaited<ReturnType<typeof import('./server.js').listenInspector>>;
  try {
    const { listenInspector } = await import('./server.js');
    server = await listenInspector(recorder, { port });
  } catch (err) {
    detach();
    recorder.close();
    throw err;
  }
  options.logger?.info({ url: server.url }, `inspector: ${server.url}`);
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    token: server.token,
    recorder,
    close: () => {
      closing ??= (async () => {
        detach();
        recorder.close();
        await server.app.close();
      })();
      return closing;
    },
  };
}
