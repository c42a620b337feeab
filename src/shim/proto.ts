// The protobuf messages the shim speaks, loaded once from containerd's own .proto files with protobufjs.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { ShimMessages } from './proto-types.js';

const PROTO_FILES = [
  'ttrpc/request.proto',
  'github.com/containerd/containerd/runtime/v2/task/shim.proto',
  'github.com/containerd/containerd/api/events/task.proto',
  'github.com/containerd/containerd/api/services/ttrpc/events/v1/events.proto',
  'github.com/containerd/cgroups/v2/stats/metrics.proto',
];

/** The vendored proto dir: next to this file under tsx, `src/shim/proto` of the package from dist/. */
function protoDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'proto'), join(here, '..', '..', '..', 'src', 'shim', 'proto')];
  const found = candidates.find((d) => existsSync(join(d, 'ttrpc', 'request.proto')));
  if (!found) throw new Error(`vmactor shim: vendored .proto files not found in ${candidates.join(' or ')}`);
  return found;
}

let root: protobuf.Root | undefined;

function loadRoot(): protobuf.Root {
  if (root) return root;
  const dir = protoDir();
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => join(dir, target);
  r.loadSync(PROTO_FILES, { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}

const CONVERSION: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  defaults: true,
  arrays: true,
};

/** A fully-qualified message name the shim encodes or decodes. */
export type ShimMessageName = keyof ShimMessages;

/** Encodes `value` as the protobuf message `name` (snake_case field names, as in the .proto files). */
export function encodeMessage<N extends ShimMessageName>(name: N, value: ShimMessages[N]): Uint8Array {
  const type = loadRoot().lookupType(name);
  return type.encode(type.fromObject(value as unknown as Record<string, unknown>)).finish();
}

/**
 * Decodes protobuf bytes as the message `name`, with defaults for absent fields and 64-bit numbers as
 * JS numbers. Throws protobufjs's error on malformed bytes (callers turn it into a typed error).
 */
export function decodeMessage<N extends ShimMessageName>(name: N, bytes: Uint8Array): ShimMessages[N] {
  const type = loadRoot().lookupType(name);
  // The one cast between protobufjs's reflection and the typed view: the fields come from the same .proto.
  return type.toObject(type.decode(bytes), CONVERSION) as ShimMessages[N];
}

/** Method names of a protobuf service (`containerd.task.v2.Task`), from its .proto definition. */
export function serviceMethods(service: string): string[] {
  return loadRoot()
    .lookupService(service)
    .methodsArray.map((m) => m.name);
}

/** Wraps a message in `google.protobuf.Any` with containerd's type URL (its full proto name). */
export function toAny<N extends ShimMessageName>(
  name: N,
  value: ShimMessages[N],
): { type_url: string; value: Uint8Array } {
  return { type_url: name, value: encodeMessage(name, value) };
}
