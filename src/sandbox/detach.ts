// Hand-off (Kata's toGrpc/fromGrpc): detach a sandbox to a JSON handle, leaving its QEMU running for attachSandbox.

import { z } from 'zod';
import { SANDBOX_DETACHED } from '../../machines/sandbox.types.js';
import { SandboxStateError } from './errors.js';
import { persisterOf } from './persist.js';
import type { Sandbox } from './sandbox.js';
import { HandleInvalidError } from './state-errors.js';
import { readStateFile } from './state-file.js';

/** What `sb.detach()` returns: plain JSON, enough for `attachSandbox(handle)` in another process. */
export interface SandboxHandle {
  readonly kind: 'vmactor.sandbox-handle';
  readonly version: 1;
  readonly sandboxId: string;
  /** The run dir holding state.json (absolute). */
  readonly runDir: string;
  /** QEMU's pid and /proc start time when it was handed off (checked again on attach). */
  readonly qemuPid: number;
  readonly qemuStartTime: number;
}

/** The handle's schema (what `attachSandbox` accepts as a handle). */
export const sandboxHandleSchema = z.strictObject({
  kind: z.literal('vmactor.sandbox-handle'),
  version: z.literal(1),
  sandboxId: z.string(),
  runDir: z.string().startsWith('/'),
  qemuPid: z.number().int().positive(),
  qemuStartTime: z.number().int().nonnegative(),
});

/** Parses a handle (object or its JSON text); a bad one is a {@link HandleInvalidError}. */
export function parseHandle(input: unknown): SandboxHandle {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (cause) {
      throw new HandleInvalidError('Expected a sandbox handle (JSON), got text that is not JSON', { cause });
    }
  }
  const r = sandboxHandleSchema.safeParse(value);
  if (!r.success) {
    throw new HandleInvalidError(
      `Expected a sandbox handle, got: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  return r.data;
}

/**
 * `sb.detach()`: only a running or paused sandbox with no operation in flight can be handed off.
 * state.json is written with `controller: null` (so another process may attach), the actor is
 * stopped without touching QEMU (no `quit`), our QMP, console and pidfd connections are closed,
 * and the handle becomes inert.
 */
export async function detachSandbox(sb: Sandbox): Promise<SandboxHandle> {
  if (sb.detached)
    throw new SandboxStateError('Expected an attached sandbox, got a detached handle', 'detached');
  const snap = sb.actor.getSnapshot();
  const phase = sb.phase;
  const settled =
    snap.status === 'active' &&
    (snap.matches({ active: { run: 'running' } }) || snap.matches({ active: { run: 'paused' } }));
  if (!settled) {
    throw new SandboxStateError(`Expected a running or paused sandbox to detach, got \`${phase}\``, phase);
  }
  if (snap.context.currentOperation !== null || snap.context.operationQueue.length > 0) {
    throw new SandboxStateError('Expected no operation in flight to detach (wait for it to settle)', phase);
  }
  const persister = persisterOf(sb);
  const qemu = sb.internalRuntime.qemu;
  if (!persister || !qemu) {
    throw new SandboxStateError(
      'Expected a sandbox with persisted state (made by createSandbox or attachSandbox)',
      phase,
    );
  }
  persister.flush({ detached: true });
  persister.close();
  const state = readStateFile(sb.runDir);
  sb.markDetached(sb.runDir);
  // A supervised sandbox's actor is a child in the supervisor's system: only its parent may stop it.
  const parent = sb.actor._parent;
  if (parent) parent.send({ type: SANDBOX_DETACHED, actor: sb.actor });
  else sb.actor.stop();
  await sb.internalRuntime.release();
  return {
    kind: 'vmactor.sandbox-handle',
    version: 1,
    sandboxId: sb.id,
    runDir: sb.runDir,
    qemuPid: qemu.pid,
    qemuStartTime: state.qemu?.startTime ?? 0,
  };
}
