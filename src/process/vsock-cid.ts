// Host-unique vsock guest CIDs: one O_EXCL file per CID under `<runBase>/.vsock/`, released at stop, stale ones reclaimed.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { isSandboxId, MAX_GUEST_CID, MIN_GUEST_CID } from '../devices/rules.js';
import { VsockCidInUseError } from './errors.js';

/** The allocator's directory under a run base (a name no sandbox id can take: ids start alphanumeric). */
export const VSOCK_DIR = '.vsock';

/** How many CIDs an allocation tries before giving up. */
const SCAN_LIMIT = 65_536;
/** A reclaim lock older than this was left by a dead process (the critical section takes microseconds). */
const STALE_LOCK_MS = 10_000;

/** What a CID file holds: who took it. */
interface CidOwner {
  readonly sandboxId: string;
  /** The controller process that took it, and its start time (`/proc/PID/stat` field 22) against pid reuse. */
  readonly pid: number;
  readonly start: string;
}

/** CIDs held by one sandbox; `release()` gives them back (idempotent). */
export interface VsockCidLease {
  readonly cids: readonly number[];
  /** Takes one more CID: `cid` exactly (throws {@link VsockCidInUseError} when taken), or the lowest free one. */
  claim(cid?: number): number;
  /** Removes this lease's CID files (and the directory once empty). */
  release(): void;
}

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[0] === 'Z' ? undefined : rest[19];
  } catch {
    return undefined;
  }
}

/** This process's start time, read once (a sync /proc read kept off every createSandbox). */
let ownStart: string | undefined;

function me(sandboxId: string): CidOwner {
  ownStart ??= startTime(process.pid) ?? '';
  return { sandboxId, pid: process.pid, start: ownStart };
}

function readOwner(file: string): CidOwner | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof v !== 'object' || v === null) return undefined;
    const { sandboxId, pid, start } = v as Record<string, unknown>;
    if (typeof sandboxId !== 'string' || typeof pid !== 'number' || typeof start !== 'string')
      return undefined;
    return { sandboxId, pid, start };
  } catch {
    return undefined;
  }
}

/**
 * A CID file is stale when its controller is gone (pid dead or reused) and the owner's run dir
 * is gone too: a QEMU that outlived its controller keeps its run dir (and so its CID) until it is
 * recovered or cleaned. An unreadable file (a crash between create and write) counts as stale
 * once its controller cannot be told: after {@link STALE_LOCK_MS}.
 */
function isStale(runBase: string, file: string): boolean {
  const owner = readOwner(file);
  if (!owner) {
    try {
      return Date.now() - statSync(file).mtimeMs > STALE_LOCK_MS;
    } catch {
      return false;
    }
  }
  if (startTime(owner.pid) === owner.start) return false;
  return !(isSandboxId(owner.sandboxId) && existsSync(join(runBase, owner.sandboxId)));
}

/** Runs `fn` holding the reclaim lock (a directory: mkdir is atomic); false when the lock is busy. */
function withReclaimLock(dir: string, fn: () => void): boolean {
  const lock = join(dir, 'reclaim.lock');
  try {
    mkdirSync(lock);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    try {
      if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmdirSync(lock);
    } catch {}
    return false;
  }
  try {
    fn();
  } finally {
    rmdirSync(lock);
  }
  return true;
}

/** Creates `<dir>/<cid>` with O_EXCL holding `owner`; false when it exists. */
function create(dir: string, cid: number, owner: CidOwner): boolean {
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      fd = openSync(join(dir, String(cid)), 'wx', 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      // A releasing sandbox removed the empty directory between our mkdir and open.
      if (code === 'ENOENT' && attempt < 5) continue;
      throw err;
    }
    try {
      writeSync(fd, `${JSON.stringify(owner)}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  }
}

/** Tries `cid`: created, or reclaimed from a stale owner and created; else the current owner. */
function tryClaim(runBase: string, dir: string, cid: number, owner: CidOwner): true | CidOwner | undefined {
  if (create(dir, cid, owner)) return true;
  const file = join(dir, String(cid));
  if (!isStale(runBase, file)) return readOwner(file);
  let reclaimed = false;
  withReclaimLock(dir, () => {
    // Re-checked under the lock: only the lock holder removes files it does not own.
    if (existsSync(file) && isStale(runBase, file)) {
      unlinkSync(file);
      reclaimed = true;
    }
  });
  if (reclaimed && create(dir, cid, owner)) return true;
  return readOwner(file);
}

/**
 * Opens a lease of vsock CIDs for `sandboxId` under `runBase` (nothing is written until the
 * first claim). `/dev/vhost-vsock` is absent on many hosts (and QEMU only fails on a taken CID
 * once it opens it), so vmactor keeps the host's CIDs itself: each is a file `<runBase>/.vsock/<cid>`
 * created with O_EXCL (the lock: two creators never both succeed) holding the owner's sandbox id
 * and controller pid. A file whose controller is dead and whose run dir is gone is reclaimed.
 *
 * @example
 * ```ts
 * const lease = vsockCidLease('/run/vmactor', 'sb1');
 * const cid = lease.claim();   // e.g. 3
 * lease.claim(42);             // throws VsockCidInUseError if another sandbox holds 42
 * lease.release();
 * ```
 */
export function vsockCidLease(base: string, sandboxId: string): VsockCidLease {
  const runBase = resolve(base);
  const dir = join(runBase, VSOCK_DIR);
  const held: number[] = [];
  // Read when first needed: most sandboxes never claim a CID.
  let ownerOf: CidOwner | undefined;
  const ownerNow = (): CidOwner => {
    ownerOf ??= me(sandboxId);
    return ownerOf;
  };
  let released = false;
  return {
    cids: held,
    claim(cid?: number): number {
      if (released) throw new Error('vsock CID lease used after release');
      if (cid !== undefined) {
        if (!Number.isInteger(cid) || cid < MIN_GUEST_CID || cid > MAX_GUEST_CID) {
          throw new RangeError(`Expected a vsock CID in ${MIN_GUEST_CID}..${MAX_GUEST_CID}, got \`${cid}\``);
        }
        if (held.includes(cid)) return cid;
        const got = tryClaim(runBase, dir, cid, ownerNow());
        if (got !== true) {
          const by = got?.sandboxId;
          throw new VsockCidInUseError(
            `Expected vsock \`contextId\` ${cid} to be free on this host, got it in use${by ? ` by sandbox \`${by}\`` : ''}`,
            cid,
            by,
          );
        }
        held.push(cid);
        return cid;
      }
      const last = Math.min(MAX_GUEST_CID, MIN_GUEST_CID + SCAN_LIMIT - 1);
      for (let c = MIN_GUEST_CID; c <= last; c++) {
        if (held.includes(c)) continue;
        if (tryClaim(runBase, dir, c, ownerNow()) === true) {
          held.push(c);
          return c;
        }
      }
      throw new VsockCidInUseError(
        `Expected a free vsock CID in ${MIN_GUEST_CID}..${last}, got none`,
        MIN_GUEST_CID,
        undefined,
      );
    },
    release(): void {
      if (released) return;
      released = true;
      if (held.length === 0) return; // nothing claimed: no file, no directory of ours to remove
      const owner = ownerNow();
      for (const cid of held.splice(0)) {
        const file = join(dir, String(cid));
        const o = readOwner(file);
        if (o && o.sandboxId === owner.sandboxId && o.pid === owner.pid) {
          try {
            unlinkSync(file);
          } catch {}
        }
      }
      try {
        rmdirSync(dir);
      } catch {}
    },
  };
}
