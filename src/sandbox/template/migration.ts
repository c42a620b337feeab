// One migration (outgoing to a state fd, or incoming from one) followed by QMP MIGRATION events only.
import type { QmpClient } from '../../qmp/client.js';
import { QmpDisconnectedError } from '../../qmp/errors.js';
import type { QmpEvent } from '../../qmp/types.js';
import { MigrationCancelledError, MigrationFailedError, MigrationTimeoutError } from './errors.js';

/** Which side of a migration this VM is: the template being saved, or a clone loading it. */
export type MigrationDirection = 'outgoing' | 'incoming';

/** A migration status as QEMU's `MIGRATION` event reports it (`setup`, `active`, `completed`, …). */
export type MigrationStatus = string;

/** Progress of a migration: a `MIGRATION` status change, or a `MIGRATION_PASS` (pass count). */
export interface MigrationProgress {
  readonly direction: MigrationDirection;
  readonly status: MigrationStatus;
  /** `MIGRATION_PASS`: the number of RAM passes so far. */
  readonly pass?: number;
  /** `failed`: `query-migrate`'s `error-desc`. */
  readonly errorDesc?: string;
}

/** Options of {@link followMigration}. */
export interface FollowMigrationOptions {
  readonly direction: MigrationDirection;
  /** Deadline for `completed` (an outgoing migration is cancelled at the deadline). */
  readonly timeoutMs: number;
  /** Aborting stops waiting; an outgoing migration is then cancelled (`migrate_cancel`). */
  readonly signal?: AbortSignal;
  /** Receives each status change and pass, in order. */
  readonly onProgress?: (p: MigrationProgress) => void;
}

/** The capabilities both sides set (Kata's qemu.go `setIgnoreSharedMemoryMigrationCaps`, plus `events`). */
export function setMigrationCapabilities(qmp: QmpClient, signal?: AbortSignal): Promise<unknown> {
  return qmp.execute(
    'migrate-set-capabilities',
    {
      capabilities: [
        { capability: 'x-ignore-shared', state: true },
        { capability: 'events', state: true },
      ],
    },
    signal ? { signal } : {},
  );
}

/**
 * Starts a migration with `start` (which sends `migrate` or `migrate-incoming`) and resolves when
 * QEMU's `MIGRATION` event says `completed`. The event listener is subscribed before `start` runs,
 * so no event is missed; nothing polls: `failed` rejects with {@link MigrationFailedError} (after
 * one `query-migrate` for `error-desc`), `cancelled` with {@link MigrationCancelledError}, the
 * deadline with {@link MigrationTimeoutError}, a QMP disconnect with its `QmpDisconnectedError`.
 *
 * @example
 * ```ts
 * await followMigration(qmp, () => qmp.execute('migrate', { uri: 'fd:state' }), {
 *   direction: 'outgoing', timeoutMs: 60_000, onProgress: (p) => console.log(p.status, p.pass),
 * });
 * ```
 */
export function followMigration(
  qmp: QmpClient,
  start: () => Promise<unknown>,
  options: FollowMigrationOptions,
): Promise<void> {
  const { direction, timeoutMs, signal, onProgress } = options;
  return new Promise<void>((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const cancel = (): void => {
      if (direction !== 'outgoing') return;
      qmp.execute('migrate_cancel', undefined, { timeoutMs: 5_000 }).catch(() => undefined);
    };
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sub.unsubscribe();
      if (err === undefined) resolve();
      else reject(err);
    };
    const onAbort = (): void => {
      cancel();
      finish(signal?.reason ?? new Error('aborted'));
    };
    const failed = (): void => {
      // The one query-migrate: QEMU keeps error-desc there, not in the event.
      qmp
        .execute('query-migrate', undefined, { timeoutMs: 2_000 })
        .then((info) => info['error-desc'])
        .catch(() => undefined)
        .then((desc) => {
          onProgress?.({ direction, status: 'failed', ...(desc ? { errorDesc: desc } : {}) });
          finish(new MigrationFailedError(direction, desc));
        });
    };
    const onEvent = (e: QmpEvent): void => {
      if (done) return;
      if (e.event === 'MIGRATION_PASS') {
        const pass = typeof e.data.pass === 'number' ? e.data.pass : undefined;
        onProgress?.({ direction, status: 'active', ...(pass === undefined ? {} : { pass }) });
        return;
      }
      if (e.event !== 'MIGRATION') return;
      const status = typeof e.data.status === 'string' ? e.data.status : 'unknown';
      if (status === 'failed') {
        failed();
        return;
      }
      onProgress?.({ direction, status });
      if (status === 'completed') finish();
      else if (status === 'cancelled') finish(new MigrationCancelledError(direction));
    };
    const sub = qmp.events$.subscribe({
      next: onEvent,
      error: (err: unknown) => finish(err),
      complete: () => finish(new QmpDisconnectedError(qmp.closeReason ?? 'eof', { command: 'migrate' })),
    });
    timer = setTimeout(() => {
      cancel();
      finish(new MigrationTimeoutError(direction, timeoutMs));
    }, timeoutMs);
    if (done) return;
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    start().catch((err: unknown) => finish(err));
  });
}
