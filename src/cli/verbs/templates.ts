// Client verbs for templates: `vmactor template save ID` and `vmactor template ls`.
import type { TemplateSummary } from '../../supervisor/templates.js';
import { call } from './client.js';
import { EXIT, parseVerb, printJson, printTable, runVerb, UsageError } from './common.js';

const OPTS = '[--socket PATH] [--json]';

const USAGE = `usage: vmactor template save ID [--keep-running] ${OPTS}
       vmactor template ls ${OPTS}

save: saves the running template VM ID (created with hypervisor.bootToBeTemplate) as the template ID
      (pause, device state saved, template.json; the VM is stopped unless --keep-running).
ls:   lists the saved templates. Clones boot with \`vmactor create --template NAME …\`.
`;

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** `vmactor template save ID`. */
function save(argv: readonly string[]): Promise<number> {
  return runVerb('template save', USAGE, async () => {
    const a = parseVerb(argv, USAGE, { 'keep-running': { type: 'boolean' } }, { min: 1, max: 1 });
    if (!a) return EXIT.ok;
    const sandbox = a.positionals[0] as string;
    const t = await call<TemplateSummary>(a.socket, 'POST', '/templates', {
      sandbox,
      ...(a.values['keep-running'] ? { keepRunning: true } : {}),
    });
    if (a.json) printJson(t);
    else process.stdout.write(`${t.name}: saved in ${t.dir} (state ${mib(t.stateBytes)})\n`);
    return EXIT.ok;
  });
}

/** `vmactor template ls`. */
function ls(argv: readonly string[]): Promise<number> {
  return runVerb('template ls', USAGE, async () => {
    const a = parseVerb(argv, USAGE);
    if (!a) return EXIT.ok;
    const list = await call<TemplateSummary[]>(a.socket, 'GET', '/templates');
    if (a.json) printJson(list);
    else
      printTable(
        ['NAME', 'VCPUS', 'MEMORY', 'STATE', 'QEMU', 'CREATED'],
        list.map((t) => [
          t.name,
          String(t.vcpus),
          `${t.memoryMiB} MiB`,
          mib(t.stateBytes),
          t.qemu.version,
          t.createdAt,
        ]),
      );
    return EXIT.ok;
  });
}

/** `vmactor template save|ls …`. */
export function templateVerb(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'save') return save(rest);
  if (sub === 'ls') return ls(rest);
  return runVerb('template', USAGE, async () => {
    if (sub === '--help' || sub === '-h') {
      process.stdout.write(USAGE);
      return EXIT.ok;
    }
    throw new UsageError(`Expected \`save\` or \`ls\`, got \`${sub ?? ''}\``);
  });
}
