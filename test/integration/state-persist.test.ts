// state.json is rewritten on every change (phase, device record, operation in flight) before the caller hears of it,
// and a write that fails on a full filesystem (a small tmpfs mounted here) is a typed event while the sandbox runs on.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { procFacts } from '../../src/process/proc-info.js';
import type { SandboxEvent } from '../../src/sandbox/events.js';
import { persisterOf } from '../../src/sandbox/persist.js';
import { StateWriteError } from '../../src/sandbox/state-errors.js';
import { readStateFile } from '../../src/sandbox/state-file.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { createTracked, freshId, quietLogger, stopAll, tempRunBase } from './sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
const disk = `${base}.disk.img`;
writeFileSync(disk, '');
truncateSync(disk, 16 * 1024 * 1024);
const mounts: string[] = [];
afterEach(stopAll);
afterAll(() => {
  for (const m of mounts) {
    execFileSync('umount', [m]);
    rmSync(m, { recursive: true, force: true });
  }
  rmSync(base, { recursive: true, force: true });
  rmSync(disk, { force: true });
});

const config = (id: string) => ({
  id,
  hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 512 },
});

describe('state.json persistence', () => {
  it('records pid + start time, argv hash, phase, devices and the operation in flight, before each call resolves', async () => {
    const sb = await createTracked(config(freshId('st')), {
      runDir: base,
      logger: quietLogger,
      accelerator: 'tcg',
    });
    const seen: string[] = [];
    const onDisk = (): string => {
      const st = readStateFile(sb.runDir);
      return `${st.operation?.kind}:${st.operation?.phase}:${st.devices?.devices.length}`;
    };
    sb.events$.subscribe((e) => {
      if (e.type !== 'operation') return;
      // `requested` is on disk before later subscribers hear of it.
      if (e.phase === 'requested') seen.push(`requested ${onDisk()}`);
      // `applied` by the end of the synchronous run that emitted it (before any continuation): a
      // plug confirmed on QEMU's word (the VM is paused here) is `confirmed` in that same run, and
      // one write holds both — the operation done, the device recorded.
      if (e.phase === 'applied') queueMicrotask(() => seen.push(`applied ${onDisk()}`));
    });
    await sb.start();
    let state = readStateFile(sb.runDir);
    const [qemuPid] = sb.getPids();
    const facts = procFacts(qemuPid as number);
    expect(state).toMatchObject({
      version: 1,
      phase: 'running',
      qemu: { pid: qemuPid, startTime: facts?.startTime },
      controller: { pid: process.pid },
      monitorSocket: join(sb.runDir, 'qmp.sock'),
      operation: null,
    });
    expect(state.argvHash).toBe(
      createHash('sha256')
        .update(facts?.argv.join('\0') ?? '')
        .digest('hex'),
    );
    expect(state.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(statSync(join(sb.runDir, 'state.json')).mode & 0o777).toBe(0o600);
    expect(statSync(sb.runDir).mode & 0o777).toBe(0o700);

    const writes = persisterOf(sb)?.stats.writes ?? Number.NaN;
    await sb.pause();
    // A move between running and paused is written in the next turn of the loop (persist.ts),
    // off the caller's path: not yet when pause() resolves, once when the persister is idle.
    expect(readStateFile(sb.runDir).phase).toBe('running');
    await persisterOf(sb)?.idle();
    expect(persisterOf(sb)?.stats.writes).toBe(writes + 1);
    expect(readStateFile(sb.runDir).phase).toBe('paused');
    const writesBeforePlug = persisterOf(sb)?.stats.writes ?? Number.NaN;
    await sb.hotplug({ kind: 'block', id: 'disk1', file: disk });
    state = readStateFile(sb.runDir);
    expect(state.devices?.devices.map((d) => `${d.id}:${d.origin}`)).toEqual(['disk1:hot']);
    expect(state.operation).toBeNull();
    expect(seen).toEqual(['requested hotplug:requested:0', 'applied undefined:undefined:1']);
    expect(persisterOf(sb)?.stats.writes).toBe(writesBeforePlug + 2);
    await sb.resume();
    await persisterOf(sb)?.idle();
    expect(readStateFile(sb.runDir).phase).toBe('running');
    // Back-to-back pause/resume calls are one write, once none is pending.
    const beforeBurst = persisterOf(sb)?.stats.writes ?? Number.NaN;
    await sb.pause();
    await sb.resume();
    await sb.pause();
    await persisterOf(sb)?.idle();
    expect(persisterOf(sb)?.stats.writes).toBe(beforeBurst + 1);
    expect(readStateFile(sb.runDir).phase).toBe('paused');
    await sb.stop();
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it('on a full filesystem: a typed event and a log line, the previous file intact, the sandbox still controllable', async () => {
    const mnt = mkdtempSync('/tmp/vmactor-full-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', mnt]);
    mounts.push(mnt);
    const logs: { level: number; msg: string; err?: { code?: string } }[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => logs.push(JSON.parse(l)) });
    const sb = await createTracked(config(freshId('full')), { runDir: mnt, logger, accelerator: 'tcg' });
    const events: SandboxEvent[] = [];
    sb.events$.subscribe((e) => events.push(e));
    await sb.start();
    // Fill the filesystem to the last byte.
    const filler = join(mnt, 'filler');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(4096, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      closeSync(fd);
    }
    const before = readFileSync(join(sb.runDir, 'state.json'), 'utf8');

    await sb.pause();
    expect(sb.phase).toBe('paused');
    await persisterOf(sb)?.idle();
    const failed = events.filter((e) => e.type === 'state-write-failed');
    expect(failed.length).toBeGreaterThan(0);
    const error = failed[0]?.type === 'state-write-failed' ? failed[0].error : undefined;
    expect(error).toBeInstanceOf(StateWriteError);
    expect(error).toMatchObject({ code: 'ERR_STATE_WRITE', cause: { code: 'ENOSPC' } });
    expect(logs.some((l) => l.err?.code === 'ERR_STATE_WRITE')).toBe(true);
    // Not corrupt, not truncated: the last good state, and no temp file left.
    expect(readFileSync(join(sb.runDir, 'state.json'), 'utf8')).toBe(before);
    expect(readStateFile(sb.runDir).phase).toBe('running');
    expect(readdirSync(sb.runDir)).not.toContain('.state.json.tmp');
    await sb.check();

    unlinkSync(filler);
    await sb.resume();
    await persisterOf(sb)?.idle();
    expect(readStateFile(sb.runDir).phase).toBe('running');
    expect((await sb.stop()).stopReason).toBe('requested');
    expect(descendants()).toEqual([]);
    expect(leftovers(mnt)).toEqual([]);
  });
});
