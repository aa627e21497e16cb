// What the edge node has announced: per Sparkplug device (a reading's sensor) the metrics its
// DBIRTH declares, each with the last reading seen, whose value and unit a birth carries. Bounded:
// beyond `maxMetrics` sensor/metric pairs, readings of new ones are refused (and counted).
import type { ReadingRecord } from '../../protocol/records.ts';

export type Observed = 'known' | 'new-device' | 'new-metric' | 'refused';

export class MetricCatalog {
  private readonly devices = new Map<string, Map<string, ReadingRecord>>();
  private count = 0;
  private readonly maxMetrics: number;

  constructor(maxMetrics: number) {
    this.maxMetrics = maxMetrics;
  }

  /** Records `r` as its metric's last reading and says whether its device must be born (again) first. */
  observe(r: ReadingRecord): Observed {
    let metrics = this.devices.get(r.sensor);
    const known = metrics?.has(r.metric) === true;
    // a reading that gains a state text adds the <metric>_state metric: a new birth
    const gainsState = known && r.state !== undefined && metrics!.get(r.metric)!.state === undefined;
    if (!known && this.count >= this.maxMetrics) return 'refused';
    if (!metrics) {
      metrics = new Map();
      this.devices.set(r.sensor, metrics);
    }
    if (!known) this.count++;
    const previous = metrics.get(r.metric);
    // a birth carries the newest value (an outage is sent after live data has moved on), and keeps
    // the state text once seen, so that it keeps declaring that metric
    if (!previous || r.seq > previous.seq) metrics.set(r.metric, r.state === undefined && previous?.state !== undefined ? { ...r, state: previous.state } : r);
    if (!known) return metrics.size === 1 ? 'new-device' : 'new-metric';
    return gainsState ? 'new-metric' : 'known';
  }

  /** The last reading of every metric of `sensor`, for its DBIRTH. */
  metricsOf(sensor: string): ReadingRecord[] {
    return [...(this.devices.get(sensor)?.values() ?? [])];
  }

  sensors(): string[] {
    return [...this.devices.keys()];
  }
}
