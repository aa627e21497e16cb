// The MRV report of one device over [from, to): per meter the energy from its plan's registers
// (engine/), the meter events and gaps with what they leave uncredited, the calibration, the
// completeness against the plan, what the device lost, the emission reductions, and the anchors
// that cover the data. Readings come from every recovery epoch the sink holds (the index reads
// them all into one series per register), each cited with its epoch and seq. README.md beside
// this file explains the method and its rules.
import type { SinkStore, StoredBatchRow } from '../store/types.ts';
import type { MrvReportConfig } from './config.ts';
import { creditingWindow, emissionsSection } from './emissions.ts';
import { kwh } from './engine/apportion.ts';
import { timeQuality } from './engine/clock-quality.ts';
import { dataLoss } from './engine/data-loss.ts';
import { epochsSection, epochTalliesFor, type CarriedJson } from './engine/epochs.ts';
import type { NoteRef } from './engine/meter-energy.ts';
import { meterJson, meterResult, type MeterJson } from './engine/meter-report.ts';
import { planTimelines, plansOver } from './engine/plan-timeline.ts';
import { repeatedMeters } from './engine/same-meter.ts';
import type { RegisterIndex } from './index/register-index.ts';
import { noteStanding } from './notes.ts';
import type { MrvStore } from './store/types.ts';

export interface ReportDeps {
  store: SinkStore;
  mrv: MrvStore;
  index: RegisterIndex;
  config: MrvReportConfig;
  now?: () => number;
  /** how a meter's period is worked through (tests compare the ways): see meterResult */
  tuning?: { sliceMs?: number; summaries?: boolean };
}

export async function buildMrvReport(deps: ReportDeps, device: string, from: number, to: number) {
  const { mrv, config } = deps;
  await deps.index.catchUp(device);
  const [plans, notes, gaps, pruned, unplanned, tallies] = await Promise.all([
    mrv.plans(device), mrv.notes(device), mrv.gaps(device), mrv.pruned(device), mrv.unplanned(device, from, to), mrv.epochTallies(device),
  ]);
  const timelines = planTimelines(plans);
  const notesBySensor = new Map<string, Map<string, NoteRef[]>>();
  for (const n of notes) {
    let m = notesBySensor.get(n.sensor);
    if (!m) notesBySensor.set(n.sensor, (m = new Map()));
    const key = `${n.eventTs}:${n.eventKind}`;
    m.set(key, [...(m.get(key) ?? []), { note: n, standing: noteStanding(n, config.operators) }]);
  }

  const cp = creditingWindow(config);
  const clipped = cp ? { from: Math.max(from, cp.from), to: Math.min(to, cp.to) } : { from, to };
  const measured: { json: MeterJson; creditedInClip: number }[] = [];
  for (const [sensor, views] of [...timelines].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (plansOver(views, from, to).length === 0) continue;
    const opts = { from, to, calibration: config.calibrationOverdue, notes: notesBySensor.get(sensor) ?? new Map() };
    const m = await meterResult(mrv, device, sensor, views, opts, clipped, deps.tuning);
    measured.push({ json: meterJson(m, from, to, config.calibrationOverdue, epochTalliesFor(tallies, sensor, from, to)), creditedInClip: m.creditedInClip });
  }
  // a meter read under two sensors counts once in the totals (engine/same-meter.ts)
  const repeats = repeatedMeters(measured.map((x) => x.json));
  const meters = measured.map((x) => ({ ...x.json, sameMeterAs: repeats.get(x.json.sensor) ?? null }));
  const counted = meters.filter((m) => m.sameMeterAs === null);
  const egInCreditingPeriod = measured.reduce((s, x) => s + (repeats.has(x.json.sensor) ? 0 : x.creditedInClip), 0);

  const unplannedMeters = [...groupBy(unplanned, (u) => u.sensor)].map(([sensor, days]) => ({
    sensor,
    readings: days.reduce((s, d) => s + d.count, 0),
    from: Math.min(...days.map((d) => d.minTs)),
    to: Math.max(...days.map((d) => d.maxTs)),
    creditedKwh: 0,
    reason: 'energy readings with no monitoring plan in force: nothing credited (readings counted by whole UTC days)',
  }));

  const sum = (pick: (m: MeterJson) => number) => round(counted.reduce((s, m) => s + pick(m), 0));
  const events = meters.flatMap((m) => m.events).sort((a, b) => a.ts - b.ts || a.sensor.localeCompare(b.sensor));
  const expected = counted.reduce((s, m) => s + m.completeness.expected, 0);
  const present = counted.reduce((s, m) => s + m.completeness.present, 0);
  const loss = dataLoss(gaps, pruned, from, to);
  const rows = await deps.store.batchesOverlapping(device, from, to);
  const anchors = await anchorsOf(deps.store, rows);
  const epochs = await epochsSection(deps.store, device, rows, to);
  const time = await timeQuality(deps.store, device, rows, from, to);
  const emissions = emissionsSection(config, kwh(egInCreditingPeriod), from, to);
  const warnings = reportWarnings(meters, unplannedMeters.length, emissions.missing, loss.droppedOnDevice + loss.prunedRecords);
  warnings.push(...epochs.warnings);
  if (time.unsyncedReadings > 0) warnings.push(`${time.unsyncedReadings} reading(s) of the period were taken while the device clock was not synchronised (${time.unsyncedBatches} batch(es)): their timestamps rest on a free-running clock`);
  if (time.futureBatches + time.backwardsBatches > 0) warnings.push(`the sink flagged ${time.futureBatches} batch(es) created in the future and ${time.backwardsBatches} created before the batch preceding them`);
  return {
    v: 1 as const,
    device,
    period: { from, to, fromIso: new Date(from).toISOString(), toIso: new Date(to).toISOString() },
    generatedAt: (deps.now ?? Date.now)(),
    provisional: meters.some((m) => m.provisional) || epochs.pendingInPeriod,
    energy: {
      unit: 'kWh',
      exportedKwh: sum((m) => m.energy.exportedKwh),
      importedKwh: sum((m) => m.energy.importedKwh),
      netKwh: sum((m) => m.energy.netKwh),
      creditedKwh: sum((m) => m.energy.creditedKwh),
      calibrationReductionKwh: sum((m) => m.calibrationReductionKwh),
      events,
      gaps: meters.flatMap((m) => m.gaps),
      method: 'net of the plan registers (export - import) between good readings, interpolated at the period edges; power integral shown as a cross-check only',
    },
    emissions,
    completeness: { expected, present, ratio: expected > 0 ? round(present / expected) : 0 },
    meters,
    unplannedMeters,
    dataLoss: loss,
    time,
    epochs: epochs.used,
    pendingEpochs: epochs.pending,
    notes: notes.map((n) => ({ ...n, counts: noteStanding(n, config.operators) === null, standing: noteStanding(n, config.operators) })),
    anchors: anchors.list,
    unanchoredBatches: anchors.unanchored,
    warnings,
  };
}

export type MrvReport = Awaited<ReturnType<typeof buildMrvReport>>;

function carriedWarning(sensor: string, c: CarriedJson): string {
  const conflicts = c.conflicts > 0 ? `; ${c.conflicts} at the same instants with other values, left out too` : '';
  return `${sensor}/${c.metric}: recovery epoch ${c.epoch} carried ${c.duplicates} reading(s) epoch ${c.keptEpoch} holds already: counted once, epoch ${c.keptEpoch}'s copies used${conflicts}`;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) out.set(key(x), [...(out.get(key(x)) ?? []), x]);
  return out;
}

async function anchorsOf(store: SinkStore, rows: readonly StoredBatchRow[]) {
  const counts = new Map<number, number>();
  let unanchored = 0;
  for (const r of rows) {
    if (r.anchorId === null) unanchored++;
    else counts.set(r.anchorId, (counts.get(r.anchorId) ?? 0) + 1);
  }
  const list = [];
  for (const [id, batches] of [...counts].sort((a, b) => a[0] - b[0])) {
    const a = await store.anchor(id);
    if (a) list.push({ id, root: a.root, chain: a.chain, tx: a.tx, version: a.version, state: a.state, batches });
  }
  return { list, unanchored };
}

function reportWarnings(meters: readonly (MeterJson & { sameMeterAs: string | null })[], unplanned: number, missing: readonly string[], lost: number): string[] {
  const w: string[] = [];
  if (meters.length === 0) w.push('no meter of this device has a monitoring plan in force in the period: nothing is credited');
  if (unplanned > 0) w.push(`${unplanned} sensor(s) report energy without a monitoring plan: credited nothing`);
  for (const m of meters) {
    if (m.sameMeterAs) w.push(`${m.sensor}: reads the same meter (serial ${[...new Set(m.plans.map((p) => p.serial))].join(', ')}) as ${m.sameMeterAs} at the same time: counted once in the device's totals, under ${m.sameMeterAs}`);
    if (m.credited) w.push(`${m.sensor}: ${m.credited}`);
    if (m.provisional) w.push(`${m.sensor}: no reading at or after the period's end yet; the last part of the period is not credited until one arrives`);
    if (m.completeness.ratio < 1) w.push(`${m.sensor}: ${m.completeness.present} of ${m.completeness.expected} planned readings present`);
    if (m.plans.some((p) => p.ratedKw === null)) w.push(`${m.sensor}: the plan gives no ratedKw: gaps are not bridged and jumps cannot be told from real increases`);
    for (const c of m.calibration) w.push(`${m.sensor}: meter ${c.serial} was due for calibration on ${c.calibrationDue}; ${c.overdueHours} h of the period ${c.mode === 'reduce' ? `reduced by ${c.maxPermissibleErrorPercent} %` : 'not credited'}`);
    const unexplained = m.events.filter((e) => !e.notes.some((n) => n.counts)).length;
    if (unexplained > 0) w.push(`${m.sensor}: ${unexplained} meter event(s) without a counting operator note; their intervals are not credited`);
    for (const c of m.carriedReadings) w.push(carriedWarning(m.sensor, c));
    for (const o of m.outOfOrderReadings) {
      w.push(`${m.sensor}/${o.metric}: recovery epoch ${o.epoch} holds ${o.count} reading(s) stamped ${new Date(o.from).toISOString()} to ${new Date(o.to).toISOString()}, before the register's last reading, at instants no epoch holds (a device clock set back?): left out`);
    }
  }
  if (lost > 0) w.push(`the device reports ${lost} record(s) lost in the period (gap records and dropped batches)`);
  for (const x of missing) w.push(`emission reductions not stated: missing ${x}`);
  return w;
}
