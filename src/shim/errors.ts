// Every error the containerd shim layer throws: ttrpc framing and calls, the Task service, the shim CLI.
import { VmactorError } from '../errors/vmactor-error.js';

/** gRPC status codes ttrpc carries in `google.rpc.Status.code` (the subset the shim uses). */
export const GRPC_CODE = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  FAILED_PRECONDITION: 9,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** A numeric gRPC status code. */
export type GrpcCode = (typeof GRPC_CODE)[keyof typeof GRPC_CODE];

/** Base of the shim layer's errors; `grpcCode` is the status a ttrpc reply carries for it. */
export abstract class ShimError extends VmactorError {
  /** The gRPC code a ttrpc response reports for this error. */
  readonly grpcCode: GrpcCode = GRPC_CODE.INTERNAL;
}

/** A ttrpc frame declared a payload over the 4 MiB cap; its bytes were skipped. */
export class TtrpcFrameTooLargeError extends ShimError {
  override readonly name = 'TtrpcFrameTooLargeError' as const;
  readonly code = 'ERR_TTRPC_FRAME_TOO_LARGE' as const;
  override readonly grpcCode = GRPC_CODE.RESOURCE_EXHAUSTED;
  constructor(
    readonly streamId: number,
    readonly length: number,
    readonly maxLength: number,
  ) {
    super(`ttrpc: message length ${length} exceeds the maximum message size of ${maxLength}`);
  }
}

/** The peer sent bytes that are not ttrpc (an unknown message type, a bad protobuf): the connection is closed. */
export class TtrpcProtocolError extends ShimError {
  override readonly name = 'TtrpcProtocolError' as const;
  readonly code = 'ERR_TTRPC_PROTOCOL' as const;
  override readonly grpcCode = GRPC_CODE.INVALID_ARGUMENT;
}

/** A response or data frame named a stream that has no call waiting (ttrpc's "unknown channel"). */
export class TtrpcUnknownStreamError extends ShimError {
  override readonly name = 'TtrpcUnknownStreamError' as const;
  readonly code = 'ERR_TTRPC_UNKNOWN_STREAM' as const;
  constructor(readonly streamId: number) {
    super(`ttrpc: received a message for unknown stream ${streamId}`);
  }
}

/** The ttrpc connection closed (EOF, socket error, local close) while a call was pending. */
export class TtrpcClosedError extends ShimError {
  override readonly name = 'TtrpcClosedError' as const;
  readonly code = 'ERR_TTRPC_CLOSED' as const;
  override readonly grpcCode = GRPC_CODE.UNAVAILABLE;
}

/** A ttrpc call did not get its response before its deadline. */
export class TtrpcTimeoutError extends ShimError {
  override readonly name = 'TtrpcTimeoutError' as const;
  readonly code = 'ERR_TTRPC_TIMEOUT' as const;
  override readonly grpcCode = GRPC_CODE.DEADLINE_EXCEEDED;
}

/** The remote side answered a ttrpc call with a non-OK `google.rpc.Status`. */
export class TtrpcStatusError extends ShimError {
  override readonly name = 'TtrpcStatusError' as const;
  readonly code = 'ERR_TTRPC_STATUS' as const;
  constructor(
    readonly method: string,
    readonly statusCode: number,
    readonly statusMessage: string,
  ) {
    super(`ttrpc: ${method} failed with code ${statusCode}: ${statusMessage}`);
  }
}

/** A Task method the shim does not provide (Checkpoint, Update, ResizePty without a TTY, unknown methods). */
export class ShimNotImplementedError extends ShimError {
  override readonly name = 'ShimNotImplementedError' as const;
  readonly code = 'ERR_SHIM_NOT_IMPLEMENTED' as const;
  override readonly grpcCode = GRPC_CODE.UNIMPLEMENTED;
}

/** A Task request named a container or exec process the shim does not have. */
export class ShimNotFoundError extends ShimError {
  override readonly name = 'ShimNotFoundError' as const;
  readonly code = 'ERR_SHIM_NOT_FOUND' as const;
  override readonly grpcCode = GRPC_CODE.NOT_FOUND;
}

/** A Task request would create something that exists (a second Create, an exec id in use). */
export class ShimAlreadyExistsError extends ShimError {
  override readonly name = 'ShimAlreadyExistsError' as const;
  readonly code = 'ERR_SHIM_ALREADY_EXISTS' as const;
  override readonly grpcCode = GRPC_CODE.ALREADY_EXISTS;
}

/** A Task request is not valid in the process's current state (start twice, pause a stopped task). */
export class ShimStateError extends ShimError {
  override readonly name = 'ShimStateError' as const;
  readonly code = 'ERR_SHIM_STATE' as const;
  override readonly grpcCode = GRPC_CODE.FAILED_PRECONDITION;
}

/** Bad input to the shim (flags, ids, the bundle's config.json, a process spec): nothing was launched. */
export class ShimInputError extends ShimError {
  override readonly name = 'ShimInputError' as const;
  readonly code = 'ERR_SHIM_INPUT' as const;
  override readonly grpcCode = GRPC_CODE.INVALID_ARGUMENT;
}

/** The sandbox VM or its guest failed while serving a Task request (boot, mount, process start). */
export class ShimVmError extends ShimError {
  override readonly name = 'ShimVmError' as const;
  readonly code = 'ERR_SHIM_VM' as const;
}
