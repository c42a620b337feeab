// Encodes an OCI process for the guest agent's `proc-start`: `<field> <value>` lines (only `%` and
// newline escaped, so the guest's shell decodes them without forking), the whole spec in base64.
import { ShimInputError } from './errors.js';

/** What the guest needs to run one process: all paths are guest paths. */
export interface GuestProcessSpec {
  /** The container's root in the guest (the mounted rootfs share). */
  readonly root: string;
  /** Working directory inside the root. */
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  /** The container's memory limit in bytes (OCI `linux.resources.memory.limit`), set on its cgroup. */
  readonly memoryLimit?: number;
  /** `KEY=VALUE` entries: the process's whole environment. */
  readonly env: readonly string[];
  /** argv; `args[0]` is looked up in the env's PATH inside the root. */
  readonly args: readonly string[];
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/**
 * One field's value on its line: `%` as `%25`, newline as `%0A`, everything else as is. The guest
 * undoes it with two parameter expansions, newline first (a fork per field under TCG costs ms).
 */
export const escapeSpecValue = (v: string): string => v.replaceAll('%', '%25').replaceAll('\n', '%0A');

/** The `proc-start` spec argument. Throws {@link ShimInputError} on an empty argv or a bad env entry. */
export function encodeGuestSpec(spec: GuestProcessSpec): string {
  if (spec.args.length === 0) throw new ShimInputError('Expected `process.args` to be non-empty, got `[]`');
  const badEnv = spec.env.find((e) => !/^[^=-][^=]*=/.test(e));
  if (badEnv !== undefined)
    throw new ShimInputError(
      `Expected \`process.env\` entries to be KEY=VALUE (KEY not starting with -), got \`${badEnv}\``,
    );
  for (const [name, v] of [
    ['uid', spec.uid],
    ['gid', spec.gid],
    ['memoryLimit', spec.memoryLimit ?? 0],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new ShimInputError(`Expected \`${name}\` to be a non-negative integer, got \`${v}\``);
  }
  const lines = [
    ['root', spec.root],
    ['cwd', spec.cwd || '/'],
    ['uid', String(spec.uid)],
    ['gid', String(spec.gid)],
    ...(spec.memoryLimit !== undefined ? [['memlimit', String(spec.memoryLimit)]] : []),
    ...spec.env.map((e) => ['env', e]),
    ...spec.args.map((a) => ['arg', a]),
  ].map(([k, v]) => `${k} ${escapeSpecValue(v ?? '')}`);
  return b64(`${lines.join('\n')}\n`);
}
