// The parts of an OCI runtime spec (config.json, or an exec's process) the shim uses, validated with zod.
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { ShimInputError } from './errors.js';

const processSchema = z.object({
  terminal: z.boolean().optional(),
  args: z.array(z.string()).min(1),
  env: z.array(z.string()).optional(),
  cwd: z.string().optional(),
  user: z
    .object({ uid: z.number().int().nonnegative(), gid: z.number().int().nonnegative() })
    .partial()
    .optional(),
});

const configSchema = z.object({
  process: processSchema,
  root: z.object({ path: z.string().min(1), readonly: z.boolean().optional() }),
  annotations: z.record(z.string(), z.string()).optional(),
  linux: z
    .object({
      resources: z
        .object({ memory: z.object({ limit: z.number().int().positive().optional() }).optional() })
        .optional(),
    })
    .optional(),
});

/** An OCI `process` object. */
export type OciProcess = z.infer<typeof processSchema>;

/** The bundle's config.json, reduced to what the shim uses, with `root.path` made absolute. */
export interface OciBundleConfig {
  readonly process: OciProcess;
  readonly rootPath: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** `linux.resources.memory.limit` (bytes), applied to the container cgroup in the guest. */
  readonly memoryLimit: number | undefined;
}

function problems(err: z.ZodError): string {
  return err.issues.map((i) => `\`${i.path.join('.')}\`: ${i.message}`).join('; ');
}

/** Parses an OCI process (an exec's spec, JSON). Throws {@link ShimInputError}. */
export function parseOciProcess(json: string): OciProcess {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (cause) {
    throw new ShimInputError('Expected the process spec to be JSON', { cause });
  }
  const parsed = processSchema.safeParse(raw);
  if (!parsed.success) throw new ShimInputError(`Invalid OCI process spec: ${problems(parsed.error)}`);
  return parsed.data;
}

/** Reads `<bundle>/config.json`. Throws {@link ShimInputError} when it is missing or invalid. */
export async function readBundleConfig(bundle: string): Promise<OciBundleConfig> {
  const file = join(bundle, 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new ShimInputError(`Expected ${file} to be a readable JSON file`, { cause });
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ShimInputError(`Invalid ${file}: ${problems(parsed.error)}`);
  const { process, root, annotations, linux } = parsed.data;
  if (process.terminal)
    throw new ShimInputError('Expected `process.terminal` to be false: TTYs are not supported yet');
  const rootPath = isAbsolute(root.path) ? root.path : join(bundle, root.path);
  const isDir = await stat(rootPath).then(
    (st) => st.isDirectory(),
    () => false,
  );
  if (!isDir) throw new ShimInputError(`Expected \`root.path\` to be a directory, got \`${rootPath}\``);
  return {
    process,
    rootPath,
    annotations: annotations ?? {},
    memoryLimit: linux?.resources?.memory?.limit,
  };
}
