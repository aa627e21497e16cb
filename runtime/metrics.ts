// One prom-client Registry per daemon (not the global default), so that tests can run several
// daemons in one process. Components get the registry through their constructor and register
// their own figures with these get-or-create helpers.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export { Registry };

export function counter<L extends string = never>(registry: Registry, name: string, help: string, labelNames: L[] = []): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge<L extends string = never>(registry: Registry, name: string, help: string, labelNames: L[] = []): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

export function histogram<L extends string = never>(registry: Registry, name: string, help: string, buckets: number[], labelNames: L[] = []): Histogram<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new Histogram({ name, help, buckets, labelNames, registers: [registry] });
}
