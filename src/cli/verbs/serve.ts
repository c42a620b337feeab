// `vmactor serve [--socket PATH]`: the node service, until SIGTERM/SIGINT (VMs left running unless --stop-on-exit).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { SandboxConfig } from '../../config/types.js';
import { guestArtifacts } from '../../guest/paths.js';
import { createLogger, defaultLogLevel } from '../../log.js';
import { serve as startService } from '../../server/serve.js';
import { defaultSocketPath } from '../../server/socket.js';
import { EXIT, runVerb, UsageError } from './common.js';

const USAGE = `usage: vmactor serve [--socket PATH] [--max-sandboxes N] [--memory-budget MIB]
                     [--start-concurrency N] [--event-buffer N] [--template-dir DIR] [--stop-on-exit]
                     [--inspect [PORT]]

Runs the vmactor service: an HTTP/JSON API on a Unix socket (default ${defaultSocketPath()},
mode 0600 in a 0700 dir; OpenAPI at /openapi.json). The client verbs (ps, create, start, …) talk to it.
SIGTERM or SIGINT stops serving and leaves the VMs running; --stop-on-exit stops them first.
  --max-sandboxes N      most sandboxes at once (default 256)
  --memory-budget MIB    guest memory of all sandboxes together (default 90% of host memory)
  --start-concurrency N  starts at once (default: CPUs)
  --event-buffer N       events kept for Last-Event-ID resume (default 10000)
  --template-dir DIR     where templates are saved, one dir per name (default /dev/shm/vmactor-templates)
  --inspect [PORT]       also serve the live inspector on 127.0.0.1:PORT (default: any free port);
                         its URL, with a random token, is printed (\`vmactor inspect\` prints it later)
Exit codes: 0 stopped by a signal, 2 bad arguments, 3 the socket is in use or unusable (an inspector
port in use is reported and the service runs without it).
`;

function positive(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!(Number.isInteger(n) && n >= 1))
    throw new UsageError(`Expected \`--${name}\` to be a positive integer, got \`${raw}\``);
  return n;
}

/**
 * A config naming no kernel gets the default guest (as `vmactor run` does): its kernel and initrd,
 * and `console=hvc0` so the console stream shows the guest.
 */
function withDefaultGuest(g: { kernel: string; initrd: string }): (c: SandboxConfig) => SandboxConfig {
  return (c) => {
    const hv = c.hypervisor ?? {};
    if (hv.kernelPath) return c;
    const kernelParams = [...(hv.kernelParams ?? []), { key: 'console', value: 'hvc0' }];
    const initrd = hv.initrdPath || hv.imagePath ? {} : { initrdPath: g.initrd };
    return { ...c, hypervisor: { ...hv, kernelPath: g.kernel, ...initrd, kernelParams } };
  };
}

/** `--inspect` may stand alone (any free port): it gets the value `0` unless a port follows it. */
function withInspectDefault(argv: readonly string[]): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    const next = argv[i + 1];
    out.push(a === '--inspect' && (next === undefined || next.startsWith('-')) ? '--inspect=0' : a);
  });
  return out;
}

function port(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!(/^\d+$/.test(raw) && n <= 65535))
    throw new UsageError(`Expected \`--inspect\` to be a port from 0 to 65535, got \`${raw}\``);
  return n;
}

/** Runs `vmactor serve`; resolves with the exit code once a signal stopped it. */
export function serveVerb(argv: readonly string[]): Promise<number> {
  return runVerb('serve', USAGE, async () => {
    const { values } = parseArgs({
      args: withInspectDefault(argv),
      options: {
        socket: { type: 'string' },
        'max-sandboxes': { type: 'string' },
        'memory-budget': { type: 'string' },
        'start-concurrency': { type: 'string' },
        'event-buffer': { type: 'string' },
        'template-dir': { type: 'string' },
        'stop-on-exit': { type: 'boolean' },
        inspect: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return EXIT.ok;
    }
    const maxSandboxes = positive('max-sandboxes', values['max-sandboxes']);
    const memoryBudgetMiB = positive('memory-budget', values['memory-budget']);
    const startConcurrency = positive('start-concurrency', values['start-concurrency']);
    const eventBufferSize = positive('event-buffer', values['event-buffer']);
    const inspectPort = port(values.inspect);
    const logger = createLogger({ level: process.env.VMACTOR_LOG_LEVEL ? defaultLogLevel() : 'warn' });
    const g = guestArtifacts('cloud');
    const haveGuest = existsSync(g.kernel) && existsSync(g.initrd);
    let svc: Awaited<ReturnType<typeof startService>>;
    try {
      svc = await startService({
        logger,
        ...(haveGuest ? { prepare: withDefaultGuest(g) } : {}),
        ...(values.socket === undefined ? {} : { socket: values.socket }),
        ...(maxSandboxes === undefined ? {} : { maxSandboxes }),
        ...(memoryBudgetMiB === undefined ? {} : { memoryBudgetMiB }),
        ...(startConcurrency === undefined ? {} : { startConcurrency }),
        ...(eventBufferSize === undefined ? {} : { eventBufferSize }),
        ...(values['template-dir'] === undefined ? {} : { templateBase: resolve(values['template-dir']) }),
        ...(inspectPort === undefined ? {} : { inspect: { port: inspectPort } }),
      });
    } catch (err) {
      if (
        (err as { code?: string }).code === 'ERR_SERVICE_SOCKET' ||
        (err as { code?: string }).code === 'EACCES'
      ) {
        process.stderr.write(`vmactor serve: ${(err as Error).message}\n`);
        return EXIT.unavailable;
      }
      throw err;
    }
    const stopSandboxes = values['stop-on-exit'] === true;
    // The inspector's line first: whoever waits for "listening on" has it already.
    if (svc.inspector) process.stdout.write(`vmactor serve: inspector at ${svc.inspector.url}\n`);
    else if (inspectPort !== undefined)
      process.stderr.write(`vmactor serve: the inspector could not listen on 127.0.0.1:${inspectPort}\n`);
    process.stdout.write(`vmactor serve: listening on ${svc.socket} (pid ${process.pid})\n`);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    process.stdout.write(
      `vmactor serve: ${signal}: closing${stopSandboxes ? ', stopping every sandbox' : '; sandboxes keep running'}\n`,
    );
    await svc.close({ stopSandboxes });
    process.stdout.write('vmactor serve: closed\n');
    // Sandboxes left running hold sockets to QEMU: exit without waiting for them.
    process.exit(EXIT.ok);
  });
}
