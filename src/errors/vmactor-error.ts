/** Base class of every error vmactor throws; subclasses carry a literal `name` and `code`. */
export abstract class VmactorError extends Error {
  /** Stable machine-readable code, e.g. `ERR_CONFIG_INVALID`. */
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
