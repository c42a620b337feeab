// What the serving shim loads: one entry, so the build can bundle it (scripts/bundle-shim.mjs) for a faster start.

export { pino } from 'pino';
export { EventPublisher } from './events.js';
export { parseHandoff, prebootVm } from './preboot.js';
export { TaskService } from './task-service.js';
export { TtrpcServer } from './ttrpc-server.js';
