// Maps errors to the google.rpc.Status a ttrpc response carries, and back.
import { GRPC_CODE, ShimError, TtrpcStatusError } from './errors.js';
import type { RpcStatus } from './proto-types.js';

/** The status a handler's error becomes: a {@link ShimError}'s own code, else UNKNOWN with its message. */
export function statusOf(err: unknown): RpcStatus {
  if (err instanceof ShimError) return { code: err.grpcCode, message: err.message };
  if (err instanceof TtrpcStatusError) return { code: err.statusCode, message: err.statusMessage };
  return { code: GRPC_CODE.UNKNOWN, message: err instanceof Error ? err.message : String(err) };
}
