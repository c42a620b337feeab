// QEMU argv and host socket for booting the default guest with its console and agent channel.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { guestKernelCmdline } from './cmdline.js';
import { GuestAgentClosedError, GuestAgentTimeoutError } from './errors.js';
import { type GuestFlavour, guestArtifacts, guestCacheDir } from './paths.js';
import { AGENT_CHANNEL_NAME } from './protocol.js';

/** Doubles commas so a value is safe inside a QEMU `key=value,...` option. */
function qemuValue(v: string): string {
  return v.replace(/,/g, ',,');
}

/** Options of {@link guestQemuArgs}. */
export interface GuestQemuArgsOptions {
  readonly flavour?: GuestFlavour;
  readonly cacheDir?: string;
  /** File that receives the serial console (ttyS0): kernel messages and the ready line. */
  readonly consoleFile: string;
  /**
   * The agent channel's host end:
   * - `{ path }`: a Unix socket the host already listens on ({@link listenGuestAgent}); QEMU
   *   connects as a client at startup, so nothing the guest writes is lost.
   * - `{ fd }`: an inherited fd that is one end of a connected socket (`socketpair`).
   * - `{ listen }`: QEMU listens on this path (`server=on,wait=off`) and the host connects when it
   *   likes, and may reconnect (a restarted supervisor): the guest re-sends its ready line to each
   *   new connection, and its writes block while no host is connected.
   */
  readonly agent: { readonly path: string } | { readonly fd: number } | { readonly listen: string };
  /** Extra kernel parameters. */
  readonly cmdlineExtra?: readonly string[];
}

/**
 * The argv fragment that boots the default guest: `-kernel`/`-initrd`/`-append`, the serial
 * console to a file, and a virtio-serial controller with the `agent.channel.0` port on a socket
 * chardev. Add machine, memory, `-nodefaults`, `-nographic` etc. yourself.
 *
 * @example
 * const server = await listenGuestAgent(join(runDir, 'agent.sock'));
 * spawn('qemu-system-x86_64', ['-machine', 'q35,accel=tcg', '-m', '512', '-nodefaults', '-nographic',
 *   ...guestQemuArgs({ consoleFile: join(runDir, 'console.log'), agent: { path: server.path } })]);
 * const client = new GuestAgentClient(await server.accept());
 */
export function guestQemuArgs(options: GuestQemuArgsOptions): string[] {
  const g = guestArtifacts(options.flavour ?? 'cloud', options.cacheDir ?? guestCacheDir());
  const a = options.agent;
  const agent =
    'path' in a
      ? `socket,id=vmactor-agent0,path=${qemuValue(a.path)}`
      : 'listen' in a
        ? `socket,id=vmactor-agent0,path=${qemuValue(a.listen)},server=on,wait=off`
        : `socket,id=vmactor-agent0,fd=${a.fd}`;
  return [
    '-kernel',
    g.kernel,
    '-initrd',
    g.initrd,
    '-append',
    guestKernelCmdline({ extra: options.cmdlineExtra ?? [] }),
    '-chardev',
    `file,id=vmactor-console0,path=${qemuValue(options.consoleFile)}`,
    '-serial',
    'chardev:vmactor-console0',
    '-device',
    'virtio-serial-pci,id=vmactor-vserial0',
    '-chardev',
    agent,
    '-device',
    `virtserialport,bus=vmactor-vserial0.0,chardev=vmactor-agent0,name=${AGENT_CHANNEL_NAME}`,
  ];
}

/** A listening Unix socket for the agent channel; QEMU connects to it once. */
export interface GuestAgentListener {
  readonly path: string;
  /** Resolves with QEMU's connection; rejects at the deadline or if the listener closes first. */
  accept(options?: { timeout?: number }): Promise<Socket>;
  /** Stops listening (Node unlinks the path). Does not wait for or close an accepted connection. */
  close(): Promise<void>;
}

/**
 * Listens on `path` (which must not exist; keep it inside a 0700 run dir, ≤ 107 bytes) for QEMU's
 * agent-channel connection.
 *
 * @example
 * const listener = await listenGuestAgent('/run/vmactor/sb1/agent.sock');
 */
export async function listenGuestAgent(path: string): Promise<GuestAgentListener> {
  const server: Server = createServer({ allowHalfOpen: false });
  const first = new Promise<Socket>((resolve, reject) => {
    server.once('connection', resolve);
    server.once('close', () =>
      reject(new GuestAgentClosedError('The agent listener closed before QEMU connected')),
    );
  });
  first.catch(() => undefined);
  server.listen(path);
  await once(server, 'listening');
  return {
    path,
    accept: async ({ timeout = 30_000 } = {}) => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new GuestAgentTimeoutError(`QEMU did not connect to ${path} within ${timeout} ms`)),
          timeout,
        );
      });
      try {
        return await Promise.race([first, deadline]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: async () => {
      // Stop listening without waiting for the accepted connection (its owner closes it).
      if (server.listening) server.close();
    },
  };
}
