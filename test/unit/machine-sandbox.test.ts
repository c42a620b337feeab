import { describe, expect, it } from 'vitest';
import { sandboxMachine } from '../../machines/sandbox.machine.js';
import type { SandboxMachineEvent, ShutdownInput, StopReason } from '../../machines/sandbox.types.js';
import {
  SANDBOX_ACTIONS,
  SANDBOX_ACTORS,
  SANDBOX_DELAYS,
  SANDBOX_EFFECT_ACTIONS,
  SANDBOX_GUARDS,
  STOP_REASONS,
} from '../../machines/sandbox.types.js';
import {
  actionCount,
  done,
  failed,
  INPUT,
  initial,
  LAUNCHED,
  lifecycle,
  moves,
  paused,
  pauseFailed,
  phase,
  resumeFailed,
  running,
  type SandboxSnapshot,
  START_TIMEOUT,
  spawned,
  step,
  stopOutput,
  VM_PAUSED,
  VM_RESUMED,
} from './machine-fixtures.js';

/** The input the shutdown ladder was invoked with (fails the test when it was not invoked). */
function shutdownInput(actions: ReadonlyArray<{ type: string; params?: unknown }>): ShutdownInput {
  const child = spawned(actions, 'shutdown');
  if (child === undefined) throw new Error('shutdown was not invoked');
  return child.input as ShutdownInput;
}

const DUMP_INPUT = { ...INPUT, guestMemoryDump: { path: '/var/dumps/sb-test', paging: true } };

describe('sandbox machine: starting', () => {
  it('begins in created with no lifecycle event and nothing invoked', () => {
    const s = initial();
    expect(s.value).toBe('created');
    expect(phase(s)).toBe('created');
    expect(Object.keys(s.children)).toEqual([]);
  });

  it('START moves to starting, emits created→starting, invokes launch and arms the start deadline', () => {
    const r = step(initial(), { type: 'START' });
    expect(r.snapshot.value).toBe('starting');
    expect(moves(r.emitted)).toEqual(['created→starting']);
    expect(spawned(r.actions, 'launch')?.input).toEqual({ sandboxId: 'sb-test' });
    const delayed = r.actions.find((a) => a.type === 'xstate.raise');
    expect(delayed?.params).toMatchObject({ delay: 30_000 });
  });

  it('the start deadline comes from the input', () => {
    const r = step(initial({ ...INPUT, startTimeoutMs: 1234 }), { type: 'START' });
    expect(r.actions.find((a) => a.type === 'xstate.raise')?.params).toMatchObject({ delay: 1234 });
  });

  it('a successful launch moves to running, stores the handles and invokes watch', () => {
    const r = step(initial(), { type: 'START' }, done('launch', LAUNCHED));
    expect(r.snapshot.value).toEqual({ active: { run: 'running', operation: 'idle' } });
    expect(r.snapshot.context.launched).toEqual(LAUNCHED);
    expect(moves(r.emitted)).toEqual(['created→starting', 'starting→running']);
    expect(spawned(r.actions, 'watch')?.input).toEqual({ sandboxId: 'sb-test', launched: LAUNCHED });
  });

  it('START outside created is ignored', () => {
    const r = step(running(), { type: 'START' });
    expect(r.emitted).toEqual([]);
    expect(phase(r.snapshot)).toBe('running');
  });
});

/** Drive a snapshot through stopping to stopped with a successful ladder. */
function finish(s: SandboxSnapshot): SandboxSnapshot {
  return step(s, done('shutdown')).snapshot;
}

describe('sandbox machine: every stop reason is reachable', () => {
  it('STOP while running stops with reason requested through the shutdown ladder', () => {
    const r = step(running(), { type: 'STOP' });
    expect(r.snapshot.value).toEqual({ stopping: 'ladder' });
    expect(moves(r.emitted)).toEqual(['running→stopping{requested}']);
    const input = shutdownInput(r.actions);
    expect(input).toEqual({
      sandboxId: 'sb-test',
      reason: 'requested',
      waitOnly: false,
      qemuExited: false,
      qemuShuttingDown: false,
      virtiofsdExited: false,
      launched: LAUNCHED,
    });
    const end = step(r.snapshot, done('shutdown'));
    expect(end.snapshot.status).toBe('done');
    expect(moves(end.emitted)).toEqual(['stopping→stopped{requested}']);
    expect(end.snapshot.output).toEqual(stopOutput({ stopReason: 'requested', stopError: null }));
  });

  it('a guest-initiated SHUTDOWN stops with reason guest-shutdown and tells the ladder QEMU is exiting', () => {
    const r = step(running(), { type: 'qmp.SHUTDOWN', guest: true, reason: 'guest-shutdown' });
    expect(r.snapshot.context.stopReason).toBe('guest-shutdown');
    expect(shutdownInput(r.actions).qemuShuttingDown).toBe(true);
    const end = finish(r.snapshot);
    expect(end.output).toEqual(
      stopOutput({
        stopReason: 'guest-shutdown',
        stopError: { shutdown: { guest: true, reason: 'guest-shutdown' } },
        shutdownBy: 'guest',
      }),
    );
  });

  it('a host-initiated SHUTDOWN by someone else counts as a requested stop', () => {
    const r = step(running(), { type: 'qmp.SHUTDOWN', guest: false, reason: 'host-qmp-quit' });
    expect(finish(r.snapshot).output?.stopReason).toBe('requested');
  });

  it('QEMU exiting without a SHUTDOWN event stops with reason crashed and the exit details', () => {
    const r = step(running(), { type: 'process.exited', which: 'qemu', code: null, signal: 'SIGKILL' });
    expect(moves(r.emitted)).toEqual(['running→stopping{crashed}']);
    expect(shutdownInput(r.actions).qemuExited).toBe(true);
    expect(finish(r.snapshot).output).toEqual(
      stopOutput({
        stopReason: 'crashed',
        stopError: { exit: { which: 'qemu', code: null, signal: 'SIGKILL' } },
        exit: { code: null, signal: 'SIGKILL' },
      }),
    );
  });

  it('a QMP disconnect without a SHUTDOWN event stops with reason crashed', () => {
    const cause = new Error('EOF');
    const r = step(running(), { type: 'qmp.disconnected', error: cause });
    expect(finish(r.snapshot).output).toEqual(
      stopOutput({ stopReason: 'crashed', stopError: { error: cause } }),
    );
  });

  it('after a QMP disconnect the exit the ladder reaped (SIGKILL) and QEMU stderr tail are in the output', () => {
    const cause = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const r = step(running(), { type: 'qmp.disconnected', error: cause });
    const end = step(
      r.snapshot,
      done('shutdown', { qemu: { code: null, signal: 'SIGKILL' }, stderrTail: 'last words' }),
    );
    expect(end.snapshot.output).toEqual(
      stopOutput({
        stopReason: 'crashed',
        stopError: { error: cause },
        exit: { code: null, signal: 'SIGKILL' },
        stderrTail: 'last words',
      }),
    );
  });

  it('an exit event keeps its own data when the ladder reports the same process again', () => {
    const r = step(running(), {
      type: 'process.exited',
      which: 'qemu',
      code: 1,
      signal: null,
      stderrTail: 'qemu: fatal',
    });
    const end = step(r.snapshot, done('shutdown', { qemu: { code: 1, signal: null } }));
    expect(end.snapshot.context.exited).toEqual([{ which: 'qemu', code: 1, signal: null }]);
    expect(end.snapshot.output).toMatchObject({ exit: { code: 1, signal: null }, stderrTail: 'qemu: fatal' });
  });

  it('a host-initiated SHUTDOWN is told as shutdownBy host in the output', () => {
    const r = step(running(), { type: 'qmp.SHUTDOWN', guest: false, reason: 'host-signal' });
    expect(finish(r.snapshot).output).toMatchObject({ stopReason: 'requested', shutdownBy: 'host' });
  });

  it('virtiofsd exiting stops with reason virtiofsd-exited', () => {
    const r = step(running(), { type: 'process.exited', which: 'virtiofsd', code: 1, signal: null });
    expect(shutdownInput(r.actions).virtiofsdExited).toBe(true);
    expect(finish(r.snapshot).output?.stopReason).toBe('virtiofsd-exited');
  });

  it('a guest panic without a dump path goes straight to the ladder with reason guest-panicked', () => {
    const r = step(running(), { type: 'qmp.GUEST_PANICKED', action: 'pause' });
    expect(r.snapshot.value).toEqual({ stopping: 'ladder' });
    expect(finish(r.snapshot).output).toEqual(
      stopOutput({
        stopReason: 'guest-panicked',
        stopError: { panic: { action: 'pause', info: undefined } },
        guestPanicked: true,
      }),
    );
  });

  it('a guest panic with a dump path dumps guest memory first, then stops', () => {
    const s = running(DUMP_INPUT);
    const r = step(s, { type: 'qmp.GUEST_PANICKED', action: 'pause' });
    expect(r.snapshot.value).toEqual({ stopping: 'dumping' });
    expect(spawned(r.actions, 'dumpGuestMemory')?.input).toEqual({
      sandboxId: 'sb-test',
      path: '/var/dumps/sb-test',
      paging: true,
    });
    const dumped = step(r.snapshot, done('dumpGuestMemory'));
    expect(dumped.snapshot.value).toEqual({ stopping: 'ladder' });
    expect(dumped.emitted).toEqual([]);
    expect(finish(dumped.snapshot).output).toMatchObject({
      stopReason: 'guest-panicked',
      stopError: { dump: { path: '/var/dumps/sb-test', ok: true } },
    });
  });

  it('a failed dump is recorded and the sandbox still stops', () => {
    const r = step(running(DUMP_INPUT), { type: 'qmp.GUEST_PANICKED' }, failed('dumpGuestMemory', 'ENOSPC'));
    expect(r.snapshot.value).toEqual({ stopping: 'ladder' });
    expect(finish(r.snapshot).output?.stopError?.dump).toEqual({
      path: '/var/dumps/sb-test',
      ok: false,
      error: 'ENOSPC',
    });
  });

  it('a launch error stops with reason start-failed after cleaning up, keeping the error', () => {
    const cause = new Error('qemu: -device foo: not found');
    const r = step(initial(), { type: 'START' }, failed('launch', cause));
    expect(r.snapshot.value).toEqual({ stopping: 'cleanup' });
    expect(spawned(r.actions, 'cleanup')?.input).toEqual({
      sandboxId: 'sb-test',
      reason: 'start-failed',
      error: cause,
    });
    const end = step(r.snapshot, done('cleanup'));
    expect(moves([...r.emitted, ...end.emitted])).toEqual([
      'created→starting',
      'starting→stopping{start-failed}',
      'stopping→stopped{start-failed}',
    ]);
    expect(end.snapshot.output).toEqual(
      stopOutput({ stopReason: 'start-failed', stopError: { error: cause } }),
    );
  });

  it('the start deadline passing stops with reason start-failed and a timeout error', () => {
    const r = step(initial(), { type: 'START' }, START_TIMEOUT, done('cleanup'));
    expect(r.snapshot.output?.stopReason).toBe('start-failed');
    expect(r.snapshot.output?.stopError?.error).toMatchObject({ code: 'ERR_START_TIMEOUT' });
  });

  it('covers every declared stop reason', () => {
    const reached = new Set<StopReason>();
    const scenarios: SandboxSnapshot[] = [
      finish(step(running(), { type: 'STOP' }).snapshot),
      finish(step(running(), { type: 'qmp.SHUTDOWN', guest: true }).snapshot),
      finish(step(running(), { type: 'qmp.disconnected' }).snapshot),
      finish(step(running(), { type: 'process.exited', which: 'virtiofsd', code: 0, signal: null }).snapshot),
      finish(step(running(), { type: 'qmp.GUEST_PANICKED' }).snapshot),
      step(initial(), { type: 'START' }, failed('launch', 'x'), done('cleanup')).snapshot,
    ];
    for (const s of scenarios) if (s.output) reached.add(s.output.stopReason);
    expect([...reached].sort()).toEqual([...STOP_REASONS].sort());
  });

  it('a failing shutdown ladder still ends in stopped, with the cleanup error recorded', () => {
    const r = step(running(), { type: 'STOP' }, failed('shutdown', 'EPERM'));
    expect(r.snapshot.output).toEqual(
      stopOutput({ stopReason: 'requested', stopError: { cleanupError: 'EPERM' } }),
    );
  });

  it('a failing start cleanup still ends in stopped, with both errors recorded', () => {
    const r = step(initial(), { type: 'START' }, failed('launch', 'boom'), failed('cleanup', 'EBUSY'));
    expect(r.snapshot.output).toEqual(
      stopOutput({
        stopReason: 'start-failed',
        stopError: { error: 'boom', cleanupError: 'EBUSY' },
      }),
    );
  });
});

describe('sandbox machine: STOP is accepted in every state and idempotent', () => {
  it('STOP in created stops with reason requested without launching anything', () => {
    const r = step(initial(), { type: 'STOP' });
    expect(r.snapshot.status).toBe('done');
    expect(moves(r.emitted)).toEqual(['created→stopped{requested}']);
    expect(r.actions.some((a) => a.type === 'xstate.spawnChild')).toBe(false);
    expect(r.snapshot.output).toEqual(stopOutput({ stopReason: 'requested', stopError: null }));
  });

  it('STOP while starting abandons the launch and cleans up', () => {
    const r = step(initial(), { type: 'START' }, { type: 'STOP' });
    expect(r.snapshot.value).toEqual({ stopping: 'cleanup' });
    expect(r.snapshot.children.launch).toBeUndefined();
    expect(r.actions.some((a) => a.type === 'xstate.stopChild')).toBe(true);
    expect(r.snapshot.context.stopReason).toBe('requested');
    expect(step(r.snapshot, done('cleanup')).snapshot.output?.stopReason).toBe('requested');
  });

  it('STOP while pausing, paused and resuming stops with reason requested', () => {
    const states: SandboxSnapshot[] = [
      step(running(), { type: 'PAUSE' }).snapshot,
      paused(),
      step(paused(), { type: 'RESUME' }).snapshot,
    ];
    const phases = states.map((s) => phase(s));
    expect(phases).toEqual(['running', 'paused', 'paused']);
    // Leaving pausing/resuming ends their command (its late reply is not delivered); paused has none.
    const ended = [1, 0, 1];
    states.forEach((s, i) => {
      const r = step(s, { type: 'STOP' });
      expect(r.snapshot.value).toEqual({ stopping: 'ladder' });
      expect(lifecycle(r.emitted)).toHaveLength(1);
      expect(actionCount(r.actions, 'endVmCommand')).toBe(ended[i]);
      expect(r.snapshot.children.watch).toBeUndefined();
    });
  });

  it('a second STOP while stopping is ignored and does not change the wait mode', () => {
    const first = step(running(), { type: 'STOP' });
    const again = step(first.snapshot, { type: 'STOP', waitOnly: true }, { type: 'STOP' });
    expect(again.emitted).toEqual([]);
    expect(again.snapshot.value).toEqual({ stopping: 'ladder' });
    expect(again.snapshot.context.waitOnly).toBe(false);
    expect(again.snapshot.children.shutdown).toBe(first.snapshot.children.shutdown);
  });

  it('STOP while dumping after a panic is ignored and keeps reason guest-panicked', () => {
    const r = step(running(DUMP_INPUT), { type: 'qmp.GUEST_PANICKED' }, { type: 'STOP' });
    expect(r.snapshot.value).toEqual({ stopping: 'dumping' });
    expect(r.snapshot.context.stopReason).toBe('guest-panicked');
  });

  it('STOP after stopped is ignored', () => {
    const s = finish(step(running(), { type: 'STOP' }).snapshot);
    const r = step(s, { type: 'STOP' });
    expect(r.emitted).toEqual([]);
    expect(r.snapshot.output).toEqual(s.output);
  });

  it('a wait-only STOP tells the ladder not to send quit', () => {
    const r = step(running(), { type: 'STOP', waitOnly: true });
    expect(shutdownInput(r.actions).waitOnly).toBe(true);
  });

  it('events from the dying VM during stopping do not change the stop reason', () => {
    const r = step(
      running(),
      { type: 'STOP' },
      { type: 'qmp.SHUTDOWN', guest: false, reason: 'host-qmp-quit' },
      { type: 'process.exited', which: 'qemu', code: 0, signal: null },
      { type: 'qmp.disconnected' },
      done('shutdown'),
    );
    expect(r.snapshot.output).toEqual(stopOutput({ stopReason: 'requested', stopError: null }));
    expect(moves(r.emitted)).toEqual(['running→stopping{requested}', 'stopping→stopped{requested}']);
  });
});

describe('sandbox machine: pause and resume', () => {
  it('PAUSE moves to pausing without a lifecycle event and sends our stop (sendPause) once, no child actor', () => {
    const r = step(running(), { type: 'PAUSE' });
    expect(r.snapshot.value).toEqual({ active: { run: 'pausing', operation: 'idle' } });
    expect(r.emitted).toEqual([]);
    expect(actionCount(r.actions, 'sendPause')).toBe(1);
    expect(Object.keys(r.snapshot.children)).toEqual(['watch']);
  });

  it('our pause completing moves to paused with reason requested', () => {
    const r = step(running(), { type: 'PAUSE' }, VM_PAUSED);
    expect(moves(r.emitted)).toEqual(['running→paused{requested}']);
  });

  it("our pause's own QMP STOP event moves to paused once, and the reply after it is not delivered", () => {
    const r = step(running(), { type: 'PAUSE' }, { type: 'qmp.STOP' });
    expect(moves(r.emitted)).toEqual(['running→paused{requested}']);
    expect(actionCount(r.actions, 'endVmCommand')).toBe(1);
    const later = step(r.snapshot, VM_PAUSED, { type: 'qmp.STOP' });
    expect(later.emitted).toEqual([]);
    expect(phase(later.snapshot)).toBe('paused');
  });

  it("after a pause and a resume overtook each other, only the last command settles, not the overtaken ones' QMP events", () => {
    // pause, then resume, then pause again, all in flight: QEMU runs stop, cont, stop in order and
    // sends STOP, RESUME, STOP before the last stop's reply.
    const r = step(running(), { type: 'PAUSE' }, { type: 'RESUME' }, { type: 'PAUSE' });
    const mid = step(r.snapshot, { type: 'qmp.STOP' }, { type: 'qmp.RESUME' }, { type: 'qmp.STOP' });
    expect(mid.emitted).toEqual([]);
    expect(mid.snapshot.value).toEqual({ active: { run: 'pausing', operation: 'idle' } });
    const end = step(mid.snapshot, VM_PAUSED);
    expect(moves(end.emitted)).toEqual(['running→paused{requested}']);
    expect(end.snapshot.context.toggleOvertaken).toBe(false);
    // Settled again, our own pause's STOP event settles the next pause at once, as before.
    const next = step(end.snapshot, { type: 'RESUME' }, VM_RESUMED, { type: 'PAUSE' }, { type: 'qmp.STOP' });
    expect(moves(next.emitted)).toEqual(['paused→running{requested}', 'running→paused{requested}']);
  });

  it('a QMP STOP event after our pause already completed does not transition again', () => {
    const r = step(running(), { type: 'PAUSE' }, VM_PAUSED, { type: 'qmp.STOP' });
    expect(moves(r.emitted)).toEqual(['running→paused{requested}']);
  });

  it('someone else pausing the VM (QMP STOP while running) moves to paused with reason external', () => {
    const r = step(running(), { type: 'qmp.STOP' });
    expect(r.snapshot.value).toEqual({ active: { run: 'paused', operation: 'idle' } });
    expect(moves(r.emitted)).toEqual(['running→paused{external}']);
  });

  it('someone else resuming the VM (QMP RESUME while paused) moves to running with reason external', () => {
    const r = step(paused(), { type: 'qmp.RESUME' });
    expect(moves(r.emitted)).toEqual(['paused→running{external}']);
  });

  it('RESUME after an external pause resumes through our cont (sendResume)', () => {
    const r = step(running(), { type: 'qmp.STOP' }, { type: 'RESUME' });
    expect(actionCount(r.actions, 'sendResume')).toBe(1);
    const back = step(r.snapshot, VM_RESUMED);
    expect(moves(back.emitted)).toEqual(['paused→running{requested}']);
  });

  it("our resume's own QMP RESUME event moves to running once", () => {
    const r = step(paused(), { type: 'RESUME' }, { type: 'qmp.RESUME' }, VM_RESUMED, {
      type: 'qmp.RESUME',
    });
    expect(moves(r.emitted)).toEqual(['paused→running{requested}']);
  });

  it('a failed pause returns to running with a command-failed event and no lifecycle event', () => {
    const r = step(running(), { type: 'PAUSE' }, pauseFailed('timeout'));
    expect(phase(r.snapshot)).toBe('running');
    expect(r.snapshot.value).toEqual({ active: { run: 'running', operation: 'idle' } });
    expect(r.emitted).toEqual([
      {
        type: 'command-failed',
        sandboxId: 'sb-test',
        command: 'pause',
        error: 'timeout',
        at: expect.any(Number),
      },
    ]);
  });

  it('a failed resume returns to paused with a command-failed event and no lifecycle event', () => {
    const r = step(paused(), { type: 'RESUME' }, resumeFailed('timeout'));
    expect(r.snapshot.value).toEqual({ active: { run: 'paused', operation: 'idle' } });
    expect(r.emitted.map((e) => e.type)).toEqual(['command-failed']);
  });

  it('RESUME while pausing switches to resuming; QMP keeps stop and cont in order', () => {
    const r = step(running(), { type: 'PAUSE' }, { type: 'RESUME' });
    expect(r.snapshot.value).toEqual({ active: { run: 'resuming', operation: 'idle' } });
    // The pause's command ends (its reply is dropped) before the resume's is sent.
    expect(r.actions.map((a) => a.type).filter((t) => /Vm|send/.test(t))).toEqual([
      'sendPause',
      'endVmCommand',
      'sendResume',
    ]);
    expect(phase(step(r.snapshot, VM_RESUMED).snapshot)).toBe('running');
  });

  it('PAUSE while resuming switches to pausing', () => {
    const r = step(paused(), { type: 'RESUME' }, { type: 'PAUSE' });
    expect(r.snapshot.value).toEqual({ active: { run: 'pausing', operation: 'idle' } });
  });

  it('PAUSE while paused and RESUME while running are ignored', () => {
    expect(step(paused(), { type: 'PAUSE' }).snapshot.value).toEqual({
      active: { run: 'paused', operation: 'idle' },
    });
    expect(step(running(), { type: 'RESUME' }).snapshot.value).toEqual({
      active: { run: 'running', operation: 'idle' },
    });
    expect(step(running(), { type: 'qmp.RESUME' }).emitted).toEqual([]);
  });

  it('pause, resume and QMP events before the VM is active are ignored', () => {
    const events: SandboxMachineEvent[] = [
      { type: 'PAUSE' },
      { type: 'RESUME' },
      { type: 'qmp.STOP' },
      { type: 'qmp.RESUME' },
      { type: 'qmp.SHUTDOWN', guest: true },
    ];
    for (const s of [initial(), step(initial(), { type: 'START' }).snapshot]) {
      const r = step(s, ...events);
      expect(r.emitted).toEqual([]);
      expect(r.snapshot.value).toBe(s.value);
    }
  });

  it('a crash while paused stops with reason crashed', () => {
    const r = step(paused(), { type: 'process.exited', which: 'qemu', code: 0, signal: 'SIGKILL' });
    expect(moves(r.emitted)).toEqual(['paused→stopping{crashed}']);
  });
});

describe('sandbox machine: lifecycle events', () => {
  it('every phase change emits exactly one lifecycle event whose from is the previous to', () => {
    const r = step(
      initial(),
      { type: 'START' },
      done('launch', LAUNCHED),
      { type: 'PAUSE' },
      { type: 'qmp.STOP' },
      VM_PAUSED,
      { type: 'RESUME' },
      VM_RESUMED,
      { type: 'qmp.STOP' },
      { type: 'qmp.RESUME' },
      { type: 'PAUSE' },
      pauseFailed('x'),
      { type: 'STOP' },
      { type: 'STOP' },
      done('shutdown'),
    );
    expect(moves(r.emitted)).toEqual([
      'created→starting',
      'starting→running',
      'running→paused{requested}',
      'paused→running{requested}',
      'running→paused{external}',
      'paused→running{external}',
      'running→stopping{requested}',
      'stopping→stopped{requested}',
    ]);
    const events = lifecycle(r.emitted);
    for (let i = 1; i < events.length; i++) expect(events[i]?.from).toBe(events[i - 1]?.to);
    for (const e of events) {
      expect(e.from).not.toBe(e.to);
      expect(e.sandboxId).toBe('sb-test');
      expect(typeof e.at).toBe('number');
    }
  });

  it('stopping and stopped lifecycle events carry the stop details', () => {
    const r = step(
      running(),
      { type: 'process.exited', which: 'virtiofsd', code: 1, signal: null },
      done('shutdown'),
    );
    for (const e of lifecycle(r.emitted)) {
      expect(e.reason).toBe('virtiofsd-exited');
      expect(e.error).toEqual({ exit: { which: 'virtiofsd', code: 1, signal: null } });
    }
  });

  it('QMP DEVICE_DELETED while active is re-emitted as device-deleted', () => {
    const r = step(running(), {
      type: 'qmp.DEVICE_DELETED',
      device: 'disk1',
      path: '/machine/peripheral/disk1',
    });
    expect(r.emitted).toEqual([
      {
        type: 'device-deleted',
        sandboxId: 'sb-test',
        device: 'disk1',
        path: '/machine/peripheral/disk1',
        at: expect.any(Number),
      },
    ]);
  });
});

describe('sandbox machine: definition conventions', () => {
  it('every invoke has an explicit id equal to its actor name, and every named actor is invoked', () => {
    const invoked: string[] = [];
    const visit = (node: typeof sandboxMachine.root): void => {
      for (const inv of node.invoke) {
        expect(inv.id).toBe(inv.src);
        invoked.push(String(inv.src));
      }
      for (const child of Object.values(node.states)) visit(child);
    };
    visit(sandboxMachine.root);
    expect(invoked.sort()).toEqual([...SANDBOX_ACTORS].sort());
  });

  it('the declared guard, delay, actor and action names match the setup implementations', () => {
    const impl = sandboxMachine.implementations;
    expect(Object.keys(impl.actions).sort()).toEqual([...SANDBOX_ACTIONS, ...SANDBOX_EFFECT_ACTIONS].sort());
    expect(Object.keys(impl.guards).sort()).toEqual([...SANDBOX_GUARDS].sort());
    expect(Object.keys(impl.delays).sort()).toEqual([...SANDBOX_DELAYS].sort());
    expect(Object.keys(impl.actors).sort()).toEqual([...SANDBOX_ACTORS].sort());
  });

  it('the placeholder effects fail loudly when not provided', async () => {
    const { createActor, toPromise } = await import('xstate');
    const actor = createActor(sandboxMachine, { input: INPUT });
    actor.start();
    actor.send({ type: 'START' });
    const out = await toPromise(actor).catch((e: unknown) => e);
    // launch rejects → cleanup (also a placeholder) rejects → stopped with both errors
    expect(out).toMatchObject({ stopReason: 'start-failed' });
    expect(String((out as { stopError: { error: unknown } }).stopError.error)).toContain(
      '`launch` was not provided',
    );
  });
});
