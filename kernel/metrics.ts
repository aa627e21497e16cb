// One prom-client Registry per daemon (not the global default), so that tests can run several
// daemons in one process. Components get the registry through their constructor and register
// their own figures with these get-or-create helpers.
import { createRequire } from 'node:module';
import type * as Prometheus from 'prom-client';

// prom-client's index also loads the push gateway, cluster aggregation, summaries and the default
// process metrics with OpenTelemetry's API: 50-100 ms of every start, for code a device never or
// rarely runs. The four classes used here come from their own files (the same modules the index
// exports, so instances are interchangeable); processMetrics() loads the defaults when first asked.
const require = createRequire(import.meta.url);
export const Registry: typeof Prometheus.Registry = require('prom-client/lib/registry');
export type Registry = Prometheus.Registry;
const Counter: typeof Prometheus.Counter = require('prom-client/lib/counter');
const Gauge: typeof Prometheus.Gauge = require('prom-client/lib/gauge');
const Histogram: typeof Prometheus.Histogram = require('prom-client/lib/histogram');

export function counter<L extends string = never>(registry: Registry, name: string, help: string, labelNames: L[] = []): Prometheus.Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Prometheus.Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge<L extends string = never>(registry: Registry, name: string, help: string, labelNames: L[] = []): Prometheus.Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Prometheus.Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

export function histogram<L extends string = never>(registry: Registry, name: string, help: string, buckets: number[], labelNames: L[] = []): Prometheus.Histogram<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Prometheus.Histogram<L>;
  return new Histogram({ name, help, buckets, labelNames, registers: [registry] });
}

/** The process's own figures (CPU, RSS, heap, event loop lag, GC) in `registry`, once. */
export function processMetrics(registry: Registry): void {
  if (registry.getSingleMetric('process_cpu_user_seconds_total')) return;
  const collectDefaultMetrics: typeof Prometheus.collectDefaultMetrics = require('prom-client/lib/defaultMetrics');
  collectDefaultMetrics({ register: registry });
}
