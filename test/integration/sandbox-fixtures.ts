// Shared fixtures of the sandbox tests: bare-QEMU plans (no guest), a temp run base, event recording.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { SandboxConfig } from '../../src/config/types.js';
import { type CreateSandboxOptions, createSandbox } from '../../src/sandbox/create.js';
import { openSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import type { LaunchPlan, SandboxSpec } from '../../src/sandbox/spec.js';

let counter = 0;

/** A fresh sandbox id (unique per test process). */
export function freshId(prefix = 'sb'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/** A short base dir for run dirs (socket paths must stay ≤ 107 bytes). */
export function tempRunBase(): string {
  return mkdtempSync('/tmp/vmactor-test-');
}

/** A silent logger for tests. */
export const quietLogger = pino({ level: 'silent' });

/**
 * A QEMU with no guest: firmware only (or frozen with `-S`), QMP on fd 3 and a second monitor on
 * `qmp.sock`; optionally a virtio-fs device on virtiofsd.
 */
export function barePlan(
  qemu: string,
  opts: { frozen?: boolean; virtiofsd?: { binary: string; source: string }; extra?: readonly string[] } = {},
): (runDir: string) => LaunchPlan {
  return (runDir) => {
    const qmpSocket = join(runDir, 'qmp.sock');
    const virtiofsdSocket = opts.virtiofsd ? join(runDir, 'vhost-fs.sock') : undefined;
    const argv = [
      qemu,
      ...(opts.frozen ? ['-S'] : []),
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-machine',
      'q35,accel=tcg',
      '-m',
      '128M',
      '-chardev',
      'socket,id=mon0,fd=3',
      '-mon',
      'chardev=mon0,mode=control',
      '-qmp',
      `unix:${qmpSocket},server=on,wait=off`,
      '-pidfile',
      join(runDir, 'pid'),
      ...(virtiofsdSocket
        ? [
            '-object',
            'memory-backend-memfd,id=mem,size=128M,share=on',
            '-numa',
            'node,memdev=mem',
            '-chardev',
            `socket,id=vfs0,path=${virtiofsdSocket}`,
            '-device',
            'vhost-user-fs-pci,chardev=vfs0,tag=kataShared',
          ]
        : []),
      ...(opts.extra ?? []),
    ];
    const v = opts.virtiofsd;
    return {
      argv,
      paths: {
        runDir,
        qmpSocket,
        pidFile: join(runDir, 'pid'),
        ...(virtiofsdSocket ? { virtiofsdSocket } : {}),
      },
      ...(v
        ? {
            virtiofsd: {
              argv: [v.binary, '-o', `source=${v.source}`, '-o', 'cache=auto', '-o', 'no_posix_lock', '-f'],
            },
          }
        : {}),
    };
  };
}

/** A bare-QEMU spec. */
export function bareSpec(
  qemu: string,
  opts: Parameters<typeof barePlan>[1] & { id?: string } = {},
): SandboxSpec {
  return { id: opts.id ?? freshId(), plan: barePlan(qemu, opts) };
}

const live = new Set<Sandbox>();

/** Registers a sandbox so {@link stopAll} stops it even when its test fails half-way. */
export function tracked<T extends Sandbox>(sb: T): T {
  live.add(sb);
  void sb.stopped.then(() => live.delete(sb));
  return sb;
}

/** `openSandbox`, tracked. */
export function openTracked(spec: SandboxSpec, options?: SandboxOptions): Sandbox {
  return tracked(openSandbox(spec, options));
}

/** `createSandbox`, tracked. */
export async function createTracked(config: SandboxConfig, options?: CreateSandboxOptions): Promise<Sandbox> {
  return tracked(await createSandbox(config, options));
}

/**
 * Stops every tracked sandbox that is still alive (use in `afterEach`): QEMU runs in its own
 * session and would outlive a failed test's worker otherwise.
 */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((sb) => sb.stop()));
}
