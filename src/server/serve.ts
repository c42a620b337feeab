// The node service: a Supervisor behind the HTTP/JSON API on a Unix socket, until SIGTERM/SIGINT.

import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Inspector } from '../inspect/inspect.js';
import { closeServiceInspector, serviceInspector } from '../inspect/service.js';
import { rootLogger } from '../log.js';
import { reattachRunBase } from '../supervisor/recover.js';
import { openSupervisor, type Supervisor, type SupervisorOptions } from '../supervisor/supervisor.js';
import { buildApp } from './app.js';
import { defaultSocketPath, prepareSocket, restrictSocket } from './socket.js';

/** Options of {@link serve}. */
export interface ServeOptions extends SupervisorOptions {
  /** The API socket (default {@link defaultSocketPath}). */
  readonly socket?: string;
  /** Largest request body, bytes (default 1 MiB). */
  readonly bodyLimit?: number;
  readonly logger?: Logger;
  /** Also open the live inspector on 127.0.0.1 at this port (0: any free port); `vmactor serve --inspect [PORT]`. */
  readonly inspect?: { readonly port?: number };
}

/** A running service. */
export interface Service {
  readonly socket: string;
  readonly supervisor: Supervisor;
  readonly app: FastifyInstance;
  /** The inspector opened with `inspect` (its `url` carries the token; undefined when it could not listen, logged); `POST /inspector` opens one later. */
  readonly inspector: Inspector | undefined;
  /**
   * Stops serving (the socket is removed). With `stopSandboxes` every sandbox is stopped; without,
   * they keep running (as libvirt leaves domains running; a restarted service reattaches them).
   */
  close(options: { stopSandboxes: boolean }): Promise<void>;
}

/**
 * Opens the supervisor (running its recovery step), builds the API and listens on the socket
 * (parent dir 0700, socket 0600).
 *
 * @example
 * ```ts
 * const svc = await serve({ socket: '/run/vmactor/.service/api.sock' });
 * process.once('SIGTERM', () => void svc.close({ stopSandboxes: false }));
 * ```
 */
export async function serve(options: ServeOptions = {}): Promise<Service> {
  const logger = options.logger ?? rootLogger();
  const socket = await prepareSocket(options.socket ?? defaultSocketPath());
  // Boot: reattach what a previous daemon left running (unless the caller brings its own step).
  const supervisor = await openSupervisor({
    ...options,
    logger,
    recover: options.recover ?? reattachRunBase,
  });
  const { app } = await buildApp(supervisor, {
    logger,
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
  });
  try {
    await app.listen({ path: socket });
    await restrictSocket(socket);
  } catch (err) {
    await app.close().catch(() => undefined);
    await supervisor.close({ stopSandboxes: true });
    throw err;
  }
  // An inspector that cannot listen (port taken) is logged, never a reason to stop the service and its VMs.
  const inspector = options.inspect
    ? await serviceInspector(supervisor, options.inspect).catch((err: unknown) => {
        logger.error({ err }, 'the inspector was not opened');
        return undefined;
      })
    : undefined;
  let closing: Promise<void> | undefined;
  return {
    socket,
    supervisor,
    app,
    inspector,
    close: (o) => {
      closing ??= (async () => {
        await closeServiceInspector(supervisor);
        await app.close();
        await supervisor.close(o);
      })();
      return closing;
    },
  };
}
