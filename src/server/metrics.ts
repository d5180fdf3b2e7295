import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics: request counts and latencies per route template (never per raw URL), the
 * process's defaults, and what `more` writes in the text format (series kept outside prom-client).
 */
export function registerMetrics(app: FastifyInstance, more: () => string): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lapis_' });
  const requests = new Counter({
    name: 'lapis_http_requests_total',
    help: 'HTTP requests by method, route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'lapis_http_request_duration_seconds',
    help: 'HTTP request latency by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    latency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { config: { action: 'server/metrics' } }, async (_req, reply) => {
    reply.header('Content-Type', registry.contentType);
    return (await registry.metrics()) + more();
  });
}
