// The CLI's client of the service: HTTP/JSON over the Unix socket, with clear errors when no service answers.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { VmactorError } from '../../errors/vmactor-error.js';

/** No vmactor service answers on the socket (not running, not ours, or not allowed). */
export class ServiceUnavailableError extends VmactorError {
  override readonly name = 'ServiceUnavailableError' as const;
  readonly code = 'ERR_SERVICE_UNAVAILABLE' as const;
}

/** The service answered with an error status; `message` is the service's own. */
export class ServiceRequestError extends VmactorError {
  override readonly name = 'ServiceRequestError' as const;
  readonly code = 'ERR_SERVICE_REQUEST' as const;
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, message: string, body: unknown) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function unavailable(socket: string, err: NodeJS.ErrnoException): ServiceUnavailableError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new ServiceUnavailableError(
        `No vmactor service at \`${socket}\` (is \`vmactor serve\` running? --socket PATH names another)`,
        { cause: err },
      );
    case 'EACCES':
    case 'EPERM':
      return new ServiceUnavailableError(
        `Not allowed to connect to \`${socket}\`: the socket belongs to another user (mode 0600)`,
        { cause: err },
      );
    default:
      return new ServiceUnavailableError(`Cannot reach the service at \`${socket}\`: ${err.message}`, {
        cause: err,
      });
  }
}

/** Opens a request; resolves with the response once its headers are in (a vmactor service's). */
export function open(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = httpRequest(
      {
        socketPath: socket,
        method,
        path,
        headers: {
          ...headers,
          ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}),
        },
      },
      (res) => {
        if (res.headers['x-vmactor-service'] === undefined) {
          res.resume();
          reject(new ServiceUnavailableError(`\`${socket}\` answers, but it is not a vmactor service`));
          return;
        }
        resolve(res);
      },
    );
    req.once('error', (err: NodeJS.ErrnoException) => reject(unavailable(socket, err)));
    req.end(data);
  });
}

/** Reads a whole response body as text. */
export async function text(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One JSON call: resolves with the parsed body, rejects with {@link ServiceRequestError} on 4xx/5xx. */
export async function call<T = unknown>(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await open(socket, method, path, body);
  const raw = await text(res);
  const parsed: unknown =
    raw === '' ? undefined : (res.headers['content-type'] ?? '').includes('json') ? JSON.parse(raw) : raw;
  const status = res.statusCode ?? 0;
  if (status >= 400) {
    const message =
      typeof parsed === 'object' &&
      parsed !== null &&
      typeof (parsed as { message?: unknown }).message === 'string'
        ? (parsed as { message: string }).message
        : `HTTP ${status}`;
    throw new ServiceRequestError(status, message, parsed);
  }
  return parsed as T;
}
