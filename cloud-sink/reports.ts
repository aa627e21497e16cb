// The MRV report of one device over a time window: energy, avoided emissions, data completeness
// (expected versus present readings, the gaps, what the device itself dropped), the quality
// distribution, and the anchors that cover the data.
import type { JournalRecord, ReadingRecord, GapRecord } from '../protocol/records.ts';
import type { AnchorRow, SinkStore } from './store/types.ts';

export interface ReportOptions {
  from: number;
  to: number;
  emissionFactorTco2ePerMwh: number;
}

interface SensorSummary {
  sensor: string;
  metric: string;
  unit: string;
  intervalMs: number | null;
  expected: number;
  present: number;
  completeness: number;
  nullValues: number;
  gaps: { from: number; to: number; missing: number }[];
  energyKwh: number | null;
  meanQuality: number;
}

export interface MrvReport {
  device: string;
  from: number;
  to: number;
  generatedAt: number;
  energy: { kwh: number; method: string[] };
  avoided: { tco2e: number; emissionFactorTco2ePerMwh: number };
  completeness: { expected: number; present: number; ratio: number; gapCount: number; droppedOnDevice: number; prunedBatches: number; prunedRecords: number };
  quality: { buckets: Record<string, number>; flags: Record<string, number>; nullValues: number };
  sensors: SensorSummary[];
  deviceGaps: { from: number; to: number; dropped: number; reason: string }[];
  anchors: { id: number; root: string; chain: string | null; tx: string | null; version: number | null; state: string; batches: number }[];
  unanchoredBatches: number;
}

const ENERGY_KWH = /(^|_)energy(_[a-z]+)*_kwh$|^kwh(_|$)/;
const POWER_KW = /(^|_)power(_[a-z]+)*_kw$/;
const POWER_W = /(^|_)power(_[a-z]+)*_w$/;

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Energy from one series: a counter's increments (a reset is skipped) or power integrated over time. */
function energyOf(metric: string, points: { ts: number; value: number }[], intervalMs: number | null): { kwh: number; method: string } | null {
  if (points.length < 2) return null;
  if (ENERGY_KWH.test(metric)) {
    let kwh = 0;
    for (let i = 1; i < points.length; i++) {
      const d = points[i]!.value - points[i - 1]!.value;
      if (d > 0) kwh += d;
    }
    return { kwh, method: 'counter' };
  }
  const scale = POWER_KW.test(metric) ? 1 : POWER_W.test(metric) ? 1 / 1000 : null;
  if (scale === null) return null;
  // Trapezoids, but not across a gap: energy during missing data is not invented.
  const maxStep = (intervalMs ?? Infinity) * 3;
  let kwh = 0;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    const dt = b.ts - a.ts;
    if (dt <= 0 || dt > maxStep) continue;
    kwh += (((a.value + b.value) / 2) * scale * dt) / 3_600_000;
  }
  return { kwh, method: 'power-integral' };
}

export async function buildReport(store: SinkStore, device: string, opts: ReportOptions): Promise<MrvReport> {
  const rows = await store.batchesOverlapping(device, opts.from, opts.to);
  const series = new Map<string, ReadingRecord[]>();
  const deviceGaps: MrvReport['deviceGaps'] = [];
  const buckets: Record<string, number> = { '>=0.9': 0, '0.5-0.9': 0, '<0.5': 0 };
  const flags: Record<string, number> = {};
  let nullValues = 0;
  let prunedBatches = 0;
  let prunedRecords = 0;
  const anchorIds = new Map<number, number>();
  let unanchored = 0;
  for (const row of rows) {
    // A pruned batch has no readings to place in time; it belongs to the window its header was sealed in.
    if (row.pruned && (row.header.created < opts.from || row.header.created >= opts.to)) continue;
    if (row.anchorId === null) unanchored++;
    else anchorIds.set(row.anchorId, (anchorIds.get(row.anchorId) ?? 0) + 1);
    if (row.pruned) {
      prunedBatches++;
      prunedRecords += row.header.count;
      continue;
    }
    for (const line of await store.records(device, row.header.batch)) {
      const r = JSON.parse(line) as JournalRecord;
      if (r.kind === 'gap') {
        const g = r as GapRecord;
        if (g.to >= opts.from && g.from < opts.to) deviceGaps.push({ from: g.from, to: g.to, dropped: g.dropped, reason: g.reason });
        continue;
      }
      if (r.ts < opts.from || r.ts >= opts.to) continue;
      const key = `${r.sensor}\u0000${r.metric}`;
      let list = series.get(key);
      if (!list) series.set(key, (list = []));
      list.push(r);
      const s = r.quality.score;
      buckets[s >= 0.9 ? '>=0.9' : s >= 0.5 ? '0.5-0.9' : '<0.5']!++;
      for (const f of r.quality.flags) flags[f] = (flags[f] ?? 0) + 1;
      if (r.value === null) nullValues++;
    }
  }

  const sensors: SensorSummary[] = [];
  let energyKwh = 0;
  const methods = new Set<string>();
  for (const list of series.values()) {
    list.sort((a, b) => a.ts - b.ts);
    const first = list[0]!;
    const interval = median(list.slice(1).map((r, i) => r.ts - list[i]!.ts).filter((d) => d > 0));
    const span = opts.to - opts.from;
    const expected = interval ? Math.max(list.length, Math.floor(span / interval)) : list.length;
    const gaps: SensorSummary['gaps'] = [];
    if (interval) {
      const edges = [opts.from - interval, ...list.map((r) => r.ts), opts.to];
      for (let i = 1; i < edges.length; i++) {
        const dt = edges[i]! - edges[i - 1]!;
        if (dt > interval * 1.5) gaps.push({ from: edges[i - 1]! + interval, to: edges[i]!, missing: Math.round(dt / interval) - 1 });
      }
    }
    const points = list.filter((r) => r.value !== null).map((r) => ({ ts: r.ts, value: r.value as number }));
    const e = energyOf(first.metric, points, interval);
    if (e) {
      energyKwh += e.kwh;
      methods.add(e.method);
    }
    sensors.push({
      sensor: first.sensor, metric: first.metric, unit: first.unit, intervalMs: interval, expected, present: list.length,
      completeness: expected ? round(list.length / expected, 4) : 1, nullValues: list.filter((r) => r.value === null).length,
      gaps, energyKwh: e ? round(e.kwh, 6) : null, meanQuality: round(list.reduce((s, r) => s + r.quality.score, 0) / list.length, 4),
    });
  }
  sensors.sort((a, b) => a.sensor.localeCompare(b.sensor) || a.metric.localeCompare(b.metric));
  const expected = sensors.reduce((s, x) => s + x.expected, 0);
  const present = sensors.reduce((s, x) => s + x.present, 0);
  const anchors: MrvReport['anchors'] = [];
  for (const [id, batches] of [...anchorIds].sort((a, b) => a[0] - b[0])) {
    const a = (await store.anchor(id)) as AnchorRow;
    anchors.push({ id, root: a.root, chain: a.chain, tx: a.tx, version: a.version, state: a.state, batches });
  }
  return {
    device, from: opts.from, to: opts.to, generatedAt: Date.now(),
    energy: { kwh: round(energyKwh, 6), method: [...methods] },
    avoided: { tco2e: round((energyKwh / 1000) * opts.emissionFactorTco2ePerMwh, 6), emissionFactorTco2ePerMwh: opts.emissionFactorTco2ePerMwh },
    completeness: {
      expected, present, ratio: expected ? round(present / expected, 4) : 1, gapCount: sensors.reduce((s, x) => s + x.gaps.length, 0),
      // The device's gap records already count what its disk bound pruned: they are the signed tally.
      droppedOnDevice: deviceGaps.reduce((s, g) => s + g.dropped, 0), prunedBatches, prunedRecords,
    },
    quality: { buckets, flags, nullValues },
    sensors,
    deviceGaps,
    anchors,
    unanchoredBatches: unanchored,
  };
}

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per sensor series and a total row; the anchors follow as rows of their own kind. */
export function reportCsv(r: MrvReport): string {
  const head = ['row', 'sensor', 'metric', 'unit', 'interval_ms', 'expected', 'present', 'completeness', 'gaps', 'null_values', 'mean_quality', 'energy_kwh', 'avoided_tco2e', 'anchor_tx', 'anchor_root'];
  const lines = [head.join(',')];
  const factor = r.avoided.emissionFactorTco2ePerMwh / 1000;
  for (const s of r.sensors) {
    lines.push(['sensor', s.sensor, s.metric, s.unit, s.intervalMs, s.expected, s.present, s.completeness, s.gaps.length, s.nullValues, s.meanQuality,
      s.energyKwh, s.energyKwh === null ? null : round(s.energyKwh * factor, 6), null, null].map(csvField).join(','));
  }
  lines.push(['total', r.device, null, null, null, r.completeness.expected, r.completeness.present, r.completeness.ratio, r.completeness.gapCount,
    r.quality.nullValues, null, r.energy.kwh, r.avoided.tco2e, null, null].map(csvField).join(','));
  for (const a of r.anchors) lines.push(['anchor', null, null, null, null, null, null, null, null, null, null, null, null, a.tx, a.root].map(csvField).join(','));
  return lines.join('\n') + '\n';
}
