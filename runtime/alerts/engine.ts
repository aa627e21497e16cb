// Alerts from the records' quality flags: one alert per (sensor, metric, flag), with a severity,
// hysteresis (raised after `raiseAfter` flagged readings in a row, cleared after `clearAfter`
// clean ones) and de-duplication (an active alert is not raised again, however many readings
// carry its flag), so a failing sensor gives one alert, not one per reading.
import type { JournalRecord } from '../../protocol/records.ts';
import type { AlertsConfig, Severity } from './config.ts';

export const DEFAULT_SEVERITY: Record<string, Severity> = {
  out_of_range: 'critical',
  no_response: 'critical',
  stream_silent: 'critical',
  source_down: 'critical',
  stuck: 'warning',
  rate_of_change: 'warning',
  anomaly: 'warning',
  clock_future: 'warning',
  clock_backwards: 'warning',
  clock_jump: 'warning',
  invalid_value: 'warning',
  invalid_ts: 'warning',
  source_degraded: 'warning',
  data_gap: 'info',
  disk_full: 'critical',
  readings_dropped: 'critical',
  uplink_halted: 'critical',
};

export interface Alert {
  /** `<sensor>/<metric>/<kind>`: stable, so a consumer can match raise and clear */
  id: string;
  sensor: string;
  metric: string;
  kind: string;
  severity: Severity;
  state: 'active' | 'cleared';
  /** reading time of the first flagged reading, and of the clearing one */
  since: number;
  clearedAt?: number;
  /** flagged readings while active */
  count: number;
  /** last flagged reading's value and seq */
  value: number | null;
  seq?: number;
  detail?: string;
}

export interface AlertEvent {
  type: 'raised' | 'cleared';
  alert: Alert;
}

interface Track {
  flaggedRun: number;
  cleanRun: number;
  firstFlagTs: number;
  alert: Alert | null;
}

type Rules = Pick<AlertsConfig, 'severity' | 'ignore' | 'raiseAfter' | 'clearAfter'>;

export class AlertEngine {
  /** per stream, per flag kind */
  private readonly tracks = new Map<string, Map<string, Track>>();
  private readonly active = new Map<string, Alert>();

  private readonly rules: Rules;

  constructor(rules: Rules) {
    this.rules = rules;
  }

  severityOf(kind: string): Severity {
    return this.rules.severity[kind] ?? DEFAULT_SEVERITY[kind] ?? 'warning';
  }

  activeAlerts(): Alert[] {
    return [...this.active.values()];
  }

  /** Feed committed records in seq order; returns the alerts raised and cleared by them. */
  observe(records: readonly JournalRecord[], out: AlertEvent[] = []): AlertEvent[] {
    for (const r of records) {
      if (r.kind === 'gap') {
        // the disk bound is its own alert; any other loss (an overloaded pipeline, a write that failed) is named as such
        const kind = r.reason === 'disk_full' ? 'disk_full' : 'readings_dropped';
        this.external('device', 'journal', kind, true, r.to, null, out, `${r.dropped} readings dropped (${r.reason})`);
        continue;
      }
      if (r.kind !== 'reading') continue; // a monitoring plan raises nothing
      const streamKey = `${r.sensor}/${r.metric}`;
      let byKind = this.tracks.get(streamKey);
      if (!byKind) this.tracks.set(streamKey, (byKind = new Map()));
      const flags = r.quality.flags;
      for (const kind of flags) {
        if (this.rules.ignore.includes(kind) || byKind.has(kind)) continue;
        byKind.set(kind, { flaggedRun: 0, cleanRun: 0, firstFlagTs: r.ts, alert: null });
      }
      for (const [kind, t] of byKind) {
        if (flags.includes(kind)) {
          if (t.flaggedRun === 0) t.firstFlagTs = r.ts;
          t.flaggedRun++;
          t.cleanRun = 0;
          if (t.alert) {
            t.alert.count++;
            t.alert.value = r.value;
            t.alert.seq = r.seq;
          } else if (t.flaggedRun >= this.rules.raiseAfter) {
            t.alert = { id: `${streamKey}/${kind}`, sensor: r.sensor, metric: r.metric, kind, severity: this.severityOf(kind), state: 'active', since: t.firstFlagTs, count: t.flaggedRun, value: r.value, seq: r.seq };
            this.active.set(t.alert.id, t.alert);
            out.push({ type: 'raised', alert: { ...t.alert } });
          }
        } else {
          t.cleanRun++;
          t.flaggedRun = 0;
          if (t.alert && t.cleanRun >= this.rules.clearAfter) {
            this.clear(t.alert, r.ts, out);
            t.alert = null;
          }
          if (!t.alert && t.cleanRun >= this.rules.clearAfter) byKind.delete(kind);
        }
      }
    }
    return out;
  }

  /**
   * Conditions seen outside the records (a silent stream, a source that is down): raised while
   * `on`, cleared when it goes away. No hysteresis: the caller checks them on a timer.
   */
  external(sensor: string, metric: string, kind: string, on: boolean, ts: number, value: number | null, out: AlertEvent[], detail?: string): void {
    const id = `${sensor}/${metric}/${kind}`;
    const current = this.active.get(id);
    if (on && !current) {
      const alert: Alert = { id, sensor, metric, kind, severity: this.severityOf(kind), state: 'active', since: ts, count: 1, value, ...(detail ? { detail } : {}) };
      this.active.set(id, alert);
      out.push({ type: 'raised', alert: { ...alert } });
    } else if (on && current) {
      current.count++;
    } else if (!on && current) {
      this.clear(current, ts, out);
    }
  }

  private clear(alert: Alert, ts: number, out: AlertEvent[]): void {
    this.active.delete(alert.id);
    alert.state = 'cleared';
    alert.clearedAt = ts;
    out.push({ type: 'cleared', alert: { ...alert } });
  }
}
