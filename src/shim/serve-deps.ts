// What the serving shim loads: one entry, so the build can bundle it (scripts/bundle-shim.mjs) for a faster start.
export { EventPublisher } from './events.js';
export { TaskService } from './task-service.js';
export { TtrpcServer } from './ttrpc-server.js';
export { pino } from 'pino';
