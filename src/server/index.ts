// The service layer: the HTTP/JSON API over a Supervisor on a Unix socket.
export { type AppOptions, buildApp, DEFAULT_BODY_LIMIT } from './app.js';
export { createServiceMetrics, type ServiceMetrics } from './metrics.js';
export { type ServeOptions, type Service, serve } from './serve.js';
export { defaultSocketPath, ServiceSocketError } from './socket.js';
