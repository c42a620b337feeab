// What every client verb shares: --socket/--json/--help parsing, exit codes, printing tables and JSON.
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { defaultSocketPath } from '../../server/socket.js';
import { ServiceRequestError, ServiceUnavailableError } from './client.js';

/** Exit codes of the client verbs. */
export const EXIT = {
  ok: 0,
  /** The service refused the request (its message on stderr). */
  refused: 1,
  /** Bad arguments: nothing was sent. */
  usage: 2,
  /** No vmactor service answers on the socket (not running, not ours, not allowed). */
  unavailable: 3,
} as const;

/** A verb's parsed arguments. */
export interface VerbArgs {
  readonly socket: string;
  readonly json: boolean;
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
}

/** Thrown for bad arguments: printed with the verb's usage, exit 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses a verb's argv with the shared options; `null` means `--help` was printed. */
export function parseVerb(
  argv: readonly string[],
  usage: string,
  options: Options = {},
  positionals: { min: number; max: number } = { min: 0, max: 0 },
): VerbArgs | null {
  const { values, positionals: pos } = parseArgs({
    args: [...argv],
    options: {
      ...options,
      socket: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    return null;
  }
  if (pos.length < positionals.min || pos.length > positionals.max) {
    throw new UsageError(
      `Expected ${positionals.min === positionals.max ? positionals.min : `${positionals.min}–${positionals.max}`} argument(s), got ${pos.length}`,
    );
  }
  const socket = typeof values.socket === 'string' ? values.socket : defaultSocketPath();
  return { socket, json: values.json === true, positionals: pos, values };
}

/** Prints rows as an aligned table (for people). */
export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${[line(headers), ...rows.map(line)].join('\n')}\n`);
}

/** Prints a value as one JSON document. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Runs a verb body: maps its errors to a message and an exit code (never a stack). */
export async function runVerb(name: string, usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`vmactor ${name}: ${(err as Error).message}\n${usage}`);
      return EXIT.usage;
    }
    if (err instanceof ServiceUnavailableError) {
      process.stderr.write(`vmactor ${name}: ${err.message}\n`);
      return EXIT.unavailable;
    }
    if (err instanceof ServiceRequestError) {
      process.stderr.write(`vmactor ${name}: ${err.message}\n`);
      return EXIT.refused;
    }
    throw err;
  }
}
