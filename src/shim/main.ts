// `containerd-shim-vmactor-v1`: the shim binary's actions (start, delete, and serving the Task API).
import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { ShimError, ShimInputError, ShimVmError } from './errors.js';
import type { VmHandoff } from './preboot.js';
import { type ShimPaths, shimPaths } from './shim-paths.js';
import { trace } from './trace.js';

// Each action loads only what it uses (dynamic imports below): containerd runs `start` and
// `delete` as short-lived processes on every container's path (`delete` after every clean
// Shutdown too), so this module imports nothing beyond Node's own and a few small modules:
// no logger, no schemas, no protobuf unless the action needs them.

/**
 * What `delete` prints when nothing is left to clean (no `shim.json`: no VM was made, or the Task
 * API's Delete already stopped it): the encoded `DeleteResponse{exit_status: 137}`. A constant so
 * that path loads no protobuf library; a unit test checks it against the vendored shim.proto.
 */
export const NOTHING_LEFT_DELETE_RESPONSE: Uint8Array = Uint8Array.of(0x10, 0x89, 0x01);

/** The flags containerd passes (Go `flag` style: one dash, a separate value). */
export interface ShimFlags {
  readonly namespace: string;
  readonly id: string;
  readonly address: string;
  readonly publishBinary: string;
  readonly bundle: string | undefined;
  readonly debug: boolean;
  /** `start`, `delete`, or undefined: serve the Task API. */
  readonly action: string | undefined;
}

const VALUE_FLAGS: Readonly<Record<string, keyof ShimFlags>> = {
  namespace: 'namespace',
  id: 'id',
  address: 'address',
  'publish-binary': 'publishBinary',
  bundle: 'bundle',
  socket: 'bundle',
};

/** Parses the shim's argv. Throws {@link ShimInputError} on an unknown flag or a missing value. */
export function parseShimFlags(argv: readonly string[]): ShimFlags {
  const out: Record<string, string | boolean | undefined> = { debug: false };
  let action: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('-')) {
      if (action !== undefined)
        throw new ShimInputError(`Expected one action, got \`${action}\` and \`${arg}\``);
      action = arg;
      continue;
    }
    const [name = '', inline] = arg.replace(/^--?/, '').split(/=(.*)/s, 2);
    if (name === 'debug' || name === 'v') {
      out.debug = true;
      continue;
    }
    const key = VALUE_FLAGS[name];
    if (!key) throw new ShimInputError(`Unknown flag \`${arg}\``);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ShimInputError(`Expected a value after \`${arg}\``);
    if (name !== 'socket') out[key] = value;
  }
  if (action !== undefined && action !== 'start' && action !== 'delete') {
    throw new ShimInputError(`Expected the action to be \`start\` or \`delete\`, got \`${action}\``);
  }
  return {
    namespace: String(out.namespace ?? ''),
    id: String(out.id ?? ''),
    address: String(out.address ?? ''),
    publishBinary: String(out.publishBinary ?? ''),
    bundle: typeof out.bundle === 'string' ? out.bundle : undefined,
    debug: out.debug === true,
    action,
  };
}

function forwardedFlags(f: ShimFlags): string[] {
  return [
    '-namespace',
    f.namespace,
    '-id',
    f.id,
    '-address',
    f.address,
    '-publish-binary',
    f.publishBinary,
    ...(f.debug ? ['-debug'] : []),
  ];
}

/** True when a shim already answers on `socket` (start then reuses it). */
function listening(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socket);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Resolves true on the serving shim's ready line (fd 3), false if it exits or misses the deadline. */
function readyLine(child: ChildProcess): Promise<boolean> {
  const pipe = child.stdio[3];
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 20_000);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      pipe?.destroy();
      resolve(ok);
    };
    pipe?.once('data', () => done(true));
    child.once('exit', () => done(false));
  });
}

/** Boots the bundle's VM in this process while the server loads (see preboot.ts); never throws. */
async function prebootInStart(flags: ShimFlags, paths: ShimPaths): Promise<VmHandoff | undefined> {
  try {
    const { deps, saveCache } = await loadServeDeps(paths);
    const logger = await shimLogger(deps.pino, paths.logFile);
    const handoff = await deps.prebootVm({
      namespace: flags.namespace,
      id: flags.id,
      bundle: process.cwd(),
      paths,
      logger,
    });
    saveCache();
    return handoff;
  } catch {
    return undefined;
  }
}

/**
 * `start`: spawn the serving shim detached; meanwhile launch the container's VM here and hand it
 * over on the server's stdin (the server needs ~0.1 s to load, the VM seconds to boot); wait for
 * the server's ready line, write `address`, print it.
 */
async function start(flags: ShimFlags, paths: ShimPaths): Promise<number> {
  const address = `unix://${paths.socket}`;
  if (await listening(paths.socket)) {
    process.stdout.write(address);
    return 0;
  }
  mkdirSync(paths.taskDir, { recursive: true, mode: 0o700 });
  rmSync(paths.socket, { force: true });
  const log = openSync(paths.logFile, 'a', 0o600);
  const script = process.argv[1] ?? '';
  const child = spawn(process.execPath, [script, ...forwardedFlags(flags)], {
    detached: true,
    cwd: process.cwd(),
    env: { ...process.env, [HANDOFF_ENV]: 'stdin' },
    stdio: ['pipe', log, log, 'pipe'],
  });
  closeSync(log);
  const ready = readyLine(child);
  const handoff = await prebootInStart(flags, paths);
  child.stdin?.end(`${JSON.stringify(handoff ?? null)}\n`);
  const ok = await ready;
  child.unref();
  if (!ok) {
    if (child.exitCode === null) child.kill('SIGKILL');
    if (handoff) await stopHandedOff(handoff.runDir, paths);
    const tail = readFileSync(paths.logFile, 'utf8').split('\n').slice(-20).join('\n');
    throw new ShimVmError(`The shim server did not become ready; its log:\n${tail}`);
  }
  writeFileSync(join(process.cwd(), 'address'), address, { mode: 0o600 });
  process.stdout.write(address);
  return 0;
}

/** Stops a VM `start` launched when no serving shim took it over. */
async function stopHandedOff(runDir: string, paths: ShimPaths): Promise<void> {
  try {
    const { attachSandbox } = await import('../sandbox/attach.js');
    await (await attachSandbox(runDir, { logger: await shimLogger(undefined, paths.logFile) })).stop();
  } catch {
    // Gone already; containerd's `delete` cleans the rest from shim.json.
  }
}

/**
 * How long a serving shim waits for containerd's first request: `$VMACTOR_SHIM_CONNECT_DEADLINE_MS`
 * (a positive integer), default 60 s.
 */
function connectDeadlineMs(): number {
  const v = Number(process.env.VMACTOR_SHIM_CONNECT_DEADLINE_MS);
  return Number.isSafeInteger(v) && v > 0 ? v : 60_000;
}

/** Set on the serving shim `start` spawns: read the VM hand-off from stdin. */
const HANDOFF_ENV = 'VMACTOR_SHIM_HANDOFF';

/** The hand-off line on stdin (when `start` spawned this process), else undefined; 60 s deadline. */
function readHandoff(parse: (line: string) => VmHandoff | undefined): Promise<VmHandoff | undefined> {
  if (process.env[HANDOFF_ENV] !== 'stdin') return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => finish(), 60_000);
    const finish = () => {
      clearTimeout(timer);
      process.stdin.destroy();
      resolve(parse(text.trim()));
    };
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 65_536) finish(); // not a hand-off
    });
    process.stdin.once('end', finish);
    process.stdin.once('error', finish);
  });
}

/**
 * A pino logger at `$VMACTOR_LOG_LEVEL` (default warn) on fd 2 (the serving shim's stderr is its
 * log file), or appending to `file`: `start` must keep its stdout and stderr for the address, as
 * containerd reads both as one.
 */
async function shimLogger(loaded?: typeof import('pino').pino, file?: string): Promise<Logger> {
  const pino = loaded ?? (await import('pino')).pino;
  return pino(
    { level: process.env.VMACTOR_LOG_LEVEL ?? 'warn', base: { shim: process.pid } },
    pino.destination(file === undefined ? 2 : { dest: file, append: true, sync: true }),
  );
}

/** How long `delete` lets a serving shim that is still stopping its VM finish before killing it. */
const SERVING_SHIM_DEADLINE_MS = 30_000;

/** The pid in `shim.pid` if that process is this task's serving shim (its argv has our -namespace and -id). */
function servingShimPid(flags: ShimFlags, paths: ShimPaths): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(paths.pidFile, 'utf8'), 10);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const has = (flag: string, value: string) => argv.some((a, i) => a === flag && argv[i + 1] === value);
    return pid > 0 && has('-namespace', flags.namespace) && has('-id', flags.id) ? pid : undefined;
  } catch {
    return undefined; // no pid file, or the process is gone
  }
}

/**
 * Waits for this task's serving shim to exit when it still runs: containerd runs `delete` as soon
 * as its connection closed, also after a clean Shutdown, while the shim may still be stopping the
 * VM. Its exit is watched with a pidfd (no polling); past the deadline it is SIGKILLed.
 */
async function servingShimGone(flags: ShimFlags, paths: ShimPaths): Promise<void> {
  const pid = servingShimPid(flags, paths);
  if (pid === undefined) return;
  const { pidfdBinding } = await import('../process/pidfd.js');
  let fd: number;
  try {
    fd = pidfdBinding().pidfdOpen(pid);
  } catch {
    return; // exited meanwhile (ESRCH), or no addon: the state file decides
  }
  await new Promise<void>((resolve) => {
    // The timer also keeps the loop alive: the addon's watch is unref'd.
    const timer = setTimeout(() => pidfdBinding().pidfdSendSignal(fd, 9), SERVING_SHIM_DEADLINE_MS);
    pidfdBinding().pidfdWatch(fd, () => {
      clearTimeout(timer);
      resolve();
    });
  });
  closeSync(fd);
}

/**
 * `delete`: containerd's cleanup after its connection to the shim closed (a dead shim, and also
 * after every clean Shutdown): stop the VM from its persisted state, remove everything.
 */
async function cleanupDead(flags: ShimFlags, paths: ShimPaths): Promise<number> {
  await servingShimGone(flags, paths);
  if (!existsSync(paths.stateFile)) {
    rmSync(paths.taskDir, { recursive: true, force: true });
    process.stdout.write(NOTHING_LEFT_DELETE_RESPONSE);
    return 0;
  }
  const logger = await shimLogger();
  const { readShimState } = await import('./shim-state.js');
  const state = readShimState(paths.stateFile);
  const { encodeMessage } = await import('./proto.js');
  const { timestampOf } = await import('./events.js');
  if (state) {
    const { attachSandbox } = await import('../sandbox/attach.js');
    const { unmountAll } = await import('./rootfs-mounts.js');
    try {
      const sb = await attachSandbox(state.vmRunDir, { logger });
      await sb.stop();
    } catch (err) {
      logger.warn({ err, runDir: state.vmRunDir }, "attaching the dead shim's sandbox failed");
    }
    await unmountAll(state.rootfsMounts).catch((err) => logger.warn({ err }, 'unmounting the rootfs failed'));
  }
  rmSync(paths.taskDir, { recursive: true, force: true });
  const response = encodeMessage('containerd.task.v2.DeleteResponse', {
    pid: state?.initPid ?? 0,
    exit_status: 128 + 9,
    exited_at: timestampOf(new Date()),
  });
  process.stdout.write(response);
  return 0;
}

type ServeDeps = typeof import('./serve-deps.js');

/**
 * The serving modules: the build's single-file CommonJS bundle through the V8 code cache in
 * `<base>/code-cache` when the bundle is there, else the separate modules (running from source).
 */
async function loadServeDeps(paths: ShimPaths): Promise<{ deps: ServeDeps; saveCache: () => void }> {
  const bundle = new URL('./serve-deps.bundle.cjs', import.meta.url);
  if (bundle.protocol === 'file:' && existsSync(fileURLToPath(bundle))) {
    const { loadCachedBundle } = await import('./code-cache.js');
    const loaded = loadCachedBundle<ServeDeps>(fileURLToPath(bundle), join(paths.base, 'code-cache'));
    trace('bundle-loaded', { fromCache: loaded.fromCache });
    return { deps: loaded.exports, saveCache: () => loaded.saveCache() };
  }
  return { deps: await import('./serve-deps.js'), saveCache: () => {} };
}

/** Serving: the Task API on the shim socket until Shutdown. */
async function serve(flags: ShimFlags, paths: ShimPaths): Promise<number> {
  const { deps, saveCache } = await loadServeDeps(paths);
  const { EventPublisher, TaskService, TtrpcServer, pino } = deps;
  const logger = await shimLogger(pino);
  const events = new EventPublisher(process.env.TTRPC_ADDRESS ?? '', flags.namespace, logger);
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  // A shim nobody calls (containerd gave up on its `start`) stops its VM and exits. A request, not a
  // connection, is containerd's contact: a second `start` probes the socket without one.
  const orphaned = setTimeout(() => {
    logger.warn({ deadlineMs: connectDeadlineMs() }, 'containerd never called; exiting');
    finish();
  }, connectDeadlineMs());
  const server = new TtrpcServer({ logger, onRequest: () => clearTimeout(orphaned) });
  const service = new TaskService({
    namespace: flags.namespace,
    paths,
    events,
    logger,
    onShutdown: () => finish(),
  });
  service.register(server);
  service.adopt(readHandoff(deps.parseHandoff));
  // containerd stops a shim it gave up on with SIGTERM (then SIGKILL): stop the VM on the way out.
  process.once('SIGTERM', () => finish());
  await server.listen(paths.socket);
  trace('listening');
  writeFileSync(paths.pidFile, `${process.pid}\n`, { mode: 0o600 });
  try {
    writeSync(3, 'ready\n');
    closeSync(3);
  } catch {
    // Started by hand, not by `start`: nobody waits for the ready line.
  }
  await finished;
  clearTimeout(orphaned);
  await service.dispose();
  await events.flush();
  events.close();
  await server.close();
  rmSync(paths.taskDir, { recursive: true, force: true });
  // Last, so the code compiled while serving (Create, the VM's boot) is in the cache too.
  saveCache();
  return 0;
}

/**
 * Runs the shim with containerd's argv; resolves with the exit code.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  trace('main', { action: argv.at(-1) ?? '' });
  try {
    const flags = parseShimFlags(argv);
    const paths = shimPaths(flags.namespace, flags.id);
    if (flags.action === 'start') return await start(flags, paths);
    if (flags.action === 'delete') return await cleanupDead(flags, paths);
    return await serve(flags, paths);
  } catch (err) {
    const message = err instanceof ShimError ? `${err.code}: ${err.message}` : String(err);
    process.stderr.write(`containerd-shim-vmactor-v1: ${message}\n`);
    return 1;
  }
}
