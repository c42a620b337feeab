// `vmactor inspect [--port N]`: opens the service's live inspector (or finds the open one) and prints its URL with the token.
import { call } from './client.js';
import { EXIT, parseVerb, printJson, runVerb, UsageError } from './common.js';

const USAGE = `usage: vmactor inspect [--port N] [--socket PATH] [--json]

Opens the service's live inspector on 127.0.0.1 (once; later calls print the same one) and prints
its URL, which carries a random token (requests without it get 403): open it in a browser on this
host, or through an SSH tunnel (ssh -L PORT:127.0.0.1:PORT host). Every sandbox with its phase;
the selected one's state chart moving live, its event timeline, device record and operation queue.
  --port N   port on 127.0.0.1 (default: any free port; ignored once an inspector is open)
`;

/** Runs `vmactor inspect`. */
export function inspectVerb(argv: readonly string[]): Promise<number> {
  return runVerb('inspect', USAGE, async () => {
    const a = parseVerb(argv, USAGE, { port: { type: 'string' } });
    if (!a) return EXIT.ok;
    const raw = a.values.port;
    let port: number | undefined;
    if (typeof raw === 'string') {
      port = Number(raw);
      if (!(/^\d+$/.test(raw) && port <= 65535))
        throw new UsageError(`Expected \`--port\` to be a port from 0 to 65535, got \`${raw}\``);
    }
    const r = await call<{ url: string; port: number }>(
      a.socket,
      'POST',
      '/inspector',
      port === undefined ? {} : { port },
    );
    if (a.json) printJson(r);
    else process.stdout.write(`${r.url}\n`);
    return EXIT.ok;
  });
}
