// Shared by the guest integration tests: boot the default guest under TCG and clean up after it.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GuestAgentListener, guestQemuArgs, listenGuestAgent } from '../../src/guest/agent-channel.js';
import { GuestAgentClient } from '../../src/guest/agent-client.js';
import type { GuestFlavour } from '../../src/guest/paths.js';
import { alive } from '../helpers/census.js';
import { QEMU } from '../helpers/env.js';

export interface Booted {
  readonly qemu: ChildProcess;
  readonly client: GuestAgentClient;
  readonly consoleFile: string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export const dirs: string[] = [];
export const children: ChildProcess[] = [];
export const clients: GuestAgentClient[] = [];
export const listeners: GuestAgentListener[] = [];

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vmactor-guest-'));
  dirs.push(dir);
  return dir;
}

export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return once(child, 'exit').then(
    ([code, signal]) => ({ code, signal }) as { code: number | null; signal: NodeJS.Signals | null },
  );
}

export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** Boots the default guest under TCG with the agent channel on a socket we listen on. */
export async function boot(
  dir: string,
  flavour: GuestFlavour,
  extra: string[] = [],
  memory = ['-m', '512'],
  smp = ['-smp', '1'],
): Promise<Booted> {
  const listener = await listenGuestAgent(join(dir, 'agent.sock'));
  listeners.push(listener);
  const consoleFile = join(dir, 'console.log');
  const stderr = await open(join(dir, 'qemu.stderr'), 'w');
  const qemu = spawn(
    QEMU as string,
    [
      '-machine',
      'q35,accel=tcg',
      ...memory,
      ...smp,
      '-nographic',
      '-nodefaults',
      '-no-user-config',
      ...guestQemuArgs({ flavour, consoleFile, agent: { path: listener.path } }),
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', stderr.fd], shell: false },
  );
  await stderr.close();
  children.push(qemu);
  const exit = exitOf(qemu);
  const early = exit.then(async ({ code, signal }) => {
    throw new Error(
      `QEMU exited (${signal ?? code}) before connecting: ${await readFile(join(dir, 'qemu.stderr'), 'utf8')}`,
    );
  });
  const socket = await Promise.race([listener.accept({ timeout: 15_000 }), early]);
  early.catch(() => undefined);
  const client = new GuestAgentClient(socket);
  clients.push(client);
  return { qemu, client, consoleFile, exit };
}

/** Closes every client, SIGKILLs and reaps every child, closes listeners and removes temp dirs (afterEach). */
export async function cleanupGuests(): Promise<void> {
  for (const c of clients.splice(0)) c.close();
  for (const child of children.splice(0)) {
    if (child.pid !== undefined && alive(child.pid)) {
      const gone = exitOf(child);
      process.kill(child.pid, 'SIGKILL');
      await gone;
    }
  }
  for (const l of listeners.splice(0)) await l.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}
