// The runtime of a reattached sandbox: QEMU and virtiofsd adopted by pidfd, QMP on the second monitor, the console reconnected.
import { join } from 'node:path';
import { concat, type Observable, of } from 'rxjs';
import type { LaunchOutput, SandboxWatchEvent } from '../../machines/sandbox.types.js';
import type { AdoptedProcess } from '../process/adopted-process.js';
import type { QmpClient } from '../qmp/client.js';
import { type RuntimeOptions, type RuntimeVirtiofsd, SandboxRuntime } from './runtime.js';

/** The live pieces attachSandbox found and checked. */
export interface AttachedPieces {
  readonly qemu: AdoptedProcess;
  readonly virtiofsd: RuntimeVirtiofsd | undefined;
  readonly qmp: QmpClient;
  /**
   * What `query-status` said, as the event the machine hears first: `qmp.STOP` for a paused QEMU,
   * `qmp.GUEST_PANICKED` / `qmp.SHUTDOWN` for one that ended while detached; none when running.
   */
  readonly initial: SandboxWatchEvent | undefined;
}

/**
 * A {@link SandboxRuntime} whose `launch` adopts instead of spawning: the machine goes through
 * `starting` as usual but the effect only installs the adopted processes and the connected
 * monitor, and reconnects the console (appending to the same `console.log`). Stop, cleanup and
 * the watch streams are the ordinary ones (exits come from pidfds).
 */
export class AttachedRuntime extends SandboxRuntime {
  constructor(
    opts: RuntimeOptions,
    private readonly pieces: AttachedPieces,
  ) {
    super(opts);
    this.runDirCreated = true;
  }

  override launch(): Promise<LaunchOutput> {
    const { qemu, virtiofsd, qmp } = this.pieces;
    this.qemu = qemu;
    this.virtiofsd = virtiofsd;
    this.qmp = qmp;
    this.createConsole()?.open();
    if (virtiofsd) void this.follow(join(this.opts.runDir, 'virtiofsd.log'), 'virtiofsd');
    return Promise.resolve({
      qemuPid: qemu.pid,
      virtiofsdPid: virtiofsd?.pid ?? null,
      runDir: this.opts.runDir,
    });
  }

  /** The ordinary watch, after the status QEMU was found in (the machine enters `running` first). */
  override watch$(): Observable<SandboxWatchEvent> {
    const live = super.watch$();
    const first = this.pieces.initial;
    return first ? concat(of<SandboxWatchEvent>(first), live) : live;
  }
}
