import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Request, RequestHandler } from 'express';
import type { Knex } from 'knex';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type PrometheusContentType } from 'prom-client';
import type { StreamMetrics } from './sync/streams.js';

// OpenTelemetry's HTTP semantic conventions: known methods by name, any other as _OTHER; the
// route is a template (never the raw path, which carries ids), and one fixed value when no
// operation matched.
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);
export const UNMATCHED_ROUTE = 'unmatched';
// The bucket boundaries OpenTelemetry advises for http.server.request.duration.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

// prom-client's gauges of the same counts by type remain (sum them for a total): a gauge named
// `_total` reads as a counter, and `promtool check metrics` refuses it.
const GAUGES_NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
// Statuses whose series exist from the start, at 0, for every operation: a series that appears
// with its first error gives rate() nothing to compare it with, and an alert on 5xx misses it.
const STATUSES_SEEN_FROM_START = [500, 503];

interface Pool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

export interface Metrics {
  /**
   * In a cluster worker, the primary's aggregated view reads this registry (an
   * AggregatorRegistry so that it answers the primary's requests).
   */
  registry: Registry;
  /** Times every response; `routeOf` names the spec path template of the request, if any. */
  middleware(routeOf: (req: Request) => string | undefined): RequestHandler;
  /** Starts the error series of every operation at 0 (see STATUSES_SEEN_FROM_START). */
  expectRoutes(routes: { method: string; route: string }[]): void;
  /** GET /tasks/events: open streams, events sent, and how old a live change is when it is sent. */
  streams: StreamMetrics;
}

// From a change's transaction to its event: most within the 1 s the contract allows, the tail beyond.
const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(knex: Knex): Metrics {
  const registry = new AggregatorRegistry<PrometheusContentType>();
  AggregatorRegistry.setRegistries([registry]);
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);

  const duration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests.',
    labelNames: ['http_request_method', 'http_route', 'http_response_status_code'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });

  // knex's tarn pool (PGlite's holds its one connection); none once the database is closed.
  const pool = () => (knex.client as { pool?: Pool }).pool;
  const poolName = { db_client_connection_pool_name: 'knex' };
  // OpenTelemetry's db.client.connection.count would be db_client_connection_count, a name
  // Prometheus keeps for histograms and summaries; its earlier name for the same gauge is this one.
  new Gauge({
    name: 'db_client_connections_usage',
    help: 'Database connections of this pool by state: used (checked out) or idle.',
    labelNames: ['db_client_connection_pool_name', 'db_client_connection_state'],
    registers: [registry],
    collect() {
      this.set({ ...poolName, db_client_connection_state: 'used' }, pool()?.numUsed() ?? 0);
      this.set({ ...poolName, db_client_connection_state: 'idle' }, pool()?.numFree() ?? 0);
    },
  });
  new Gauge({
    name: 'db_client_connection_max',
    help: 'The most connections this pool opens (DATABASE_POOL_MAX).',
    labelNames: ['db_client_connection_pool_name'],
    registers: [registry],
    collect() {
      this.set(poolName, pool()?.max ?? 0);
    },
  });
  new Gauge({
    name: 'db_client_connection_pending_requests',
    help: 'Queries waiting for a connection of this pool.',
    labelNames: ['db_client_connection_pool_name'],
    registers: [registry],
    collect() {
      this.set(poolName, pool()?.numPendingAcquires() ?? 0);
    },
  });

  const openStreams = new Gauge({
    name: 'task_event_streams_open',
    help: 'GET /tasks/events streams open in this process.',
    registers: [registry],
  });
  const eventsSent = new Counter({
    name: 'task_events_sent_total',
    help: 'Change events written to GET /tasks/events streams, by event type.',
    labelNames: ['event'],
    registers: [registry],
  });
  const feedLag = new Histogram({
    name: 'task_events_lag_seconds',
    help: "Live change events: seconds from the change's transaction (updated_at or deleted_at) to the event being written.",
    buckets: LAG_BUCKETS,
    registers: [registry],
  });

  return {
    registry,
    expectRoutes(routes) {
      for (const { method, route } of routes) {
        for (const status of STATUSES_SEEN_FROM_START) {
          duration.zero({ http_request_method: method, http_route: route, http_response_status_code: status });
        }
      }
    },
    streams: {
      opened: () => openStreams.inc(),
      closed: () => openStreams.dec(),
      sent(event, lagSeconds) {
        eventsSent.inc({ event });
        if (lagSeconds !== undefined) feedLag.observe(Math.max(0, lagSeconds));
      },
    },
    middleware: (routeOf) => (req, res, next) => {
      const start = process.hrtime.bigint();
      res.once('finish', () => {
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        duration.observe(
          {
            http_request_method: KNOWN_METHODS.has(req.method) ? req.method : '_OTHER',
            http_route: routeOf(req) ?? UNMATCHED_ROUTE,
            http_response_status_code: res.statusCode,
          },
          seconds,
        );
      });
      next();
    },
  };
}

/**
 * GET /metrics on its own port, so that it is only public where someone publishes that port.
 * `scrape` is this process's registry, or the cluster primary's aggregate of its workers.
 */
export async function serveMetrics({ port, host }: { port?: number; host?: string }, scrape: { contentType: string; text(): Promise<string> }): Promise<Server> {
  const handle: RequestListener = (req, res) => {
    if (req.url !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at GET /metrics\n');
      return;
    }
    scrape.text().then(
      (text) => res.writeHead(200, { 'Content-Type': scrape.contentType }).end(text),
      (error: Error) => res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`metrics unavailable: ${error.message}\n`),
    );
  };
  const server = createServer(handle).listen(port, host);
  await once(server, 'listening');
  return server;
}

export const registryScrape = (registry: Registry) => ({ contentType: registry.contentType, text: () => registry.metrics() });

/**
 * In the cluster primary: one view of every worker's metrics, summed (prom-client's aggregation),
 * and the primary's start time, which the sum leaves out (a sum of start times means nothing) but
 * dashboards and `resets()` alerts read.
 */
export function clusterScrape() {
  const aggregator = new AggregatorRegistry();
  const primary = new Registry();
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since unix epoch in seconds.',
    registers: [primary],
    collect() {
      this.set(Math.round(Date.now() / 1000 - process.uptime()));
    },
  });
  return { contentType: aggregator.contentType, text: async () => (await aggregator.clusterMetrics()) + (await primary.metrics()) };
}
