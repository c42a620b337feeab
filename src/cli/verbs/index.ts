// The client verbs of the service (and `serve` itself), by name.
import { attachDisk, detachDisk, setMemory, setVcpus } from './devices.js';
import { inspectVerb } from './inspect.js';
import { create, pause, ps, resume, rm, start, stop } from './lifecycle.js';
import { serveVerb } from './serve.js';
import { consoleVerb, events, logs } from './streams.js';
import { templateVerb } from './templates.js';

/** Every verb, by its command name. */
export const VERBS: Readonly<Record<string, (argv: readonly string[]) => Promise<number>>> = {
  serve: serveVerb,
  ps,
  create,
  start,
  pause,
  resume,
  stop,
  rm,
  'attach-disk': attachDisk,
  'detach-disk': detachDisk,
  'set-vcpus': setVcpus,
  'set-memory': setMemory,
  events,
  console: consoleVerb,
  logs,
  template: templateVerb,
  inspect: inspectVerb,
};
