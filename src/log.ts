// The root pino logger of vmactor: one per process, children per sandbox (`{ sandboxId }`).
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

/** Log levels accepted by {@link createLogger} and `$VMACTOR_LOG_LEVEL`. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

const LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Default: `$VMACTOR_LOG_LEVEL`, else `warn` (a library stays quiet unless asked). */
  readonly level?: LogLevel;
  /** Where JSON lines go; default stderr (fd 2, synchronous so a crash loses nothing). */
  readonly destination?: DestinationStream;
  /** Extra pino options (merged last). */
  readonly pino?: LoggerOptions;
}

/** The level named by `$VMACTOR_LOG_LEVEL`, or `warn`. */
export function defaultLogLevel(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const v = env.VMACTOR_LOG_LEVEL;
  return v !== undefined && LEVELS.includes(v) ? (v as LogLevel) : 'warn';
}

/**
 * Creates a root pino logger named `vmactor` (JSON lines).
 *
 * @example
 * ```ts
 * const logger = createLogger({ level: 'debug' });
 * const sb = await createSandbox(config, { logger });
 * ```
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ dest: 2, sync: true });
  return pino({ name: 'vmactor', level: options.level ?? defaultLogLevel(), ...options.pino }, destination);
}

let root: Logger | undefined;

/** The process-wide default logger (created on first use with {@link createLogger}). */
export function rootLogger(): Logger {
  root ??= createLogger();
  return root;
}
