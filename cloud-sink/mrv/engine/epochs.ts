// What the report says of the device's recovery epochs (docs/spec/batches.md#epochs): the chains
// whose readings it used in the period, the restart that opened each later one, the readings a
// later epoch carried that an earlier one held already (counted once, the earlier copy used), and
// the restarts still waiting for an admin. A pending epoch is not in the report: the sink stores
// none of its batches before the acceptance. It may hold readings of the period all the same (a
// restored device carries what it journaled offline), so a period that ends after the batch the
// pending chain joins is provisional until the epoch is accepted and its readings indexed.
import { epochOf } from '../../../protocol/batch.ts';
import type { SinkStore, StoredBatchRow } from '../../store/types.ts';
import type { EpochTallies } from '../store/types.ts';

export interface EpochUsed {
  epoch: number;
  /** batches of the epoch that meet the period, and the time span of their readings */
  batches: number;
  readingsFrom: number | null;
  readingsTo: number | null;
  /** the restart record that opened the epoch (null for epoch 1) */
  restart: { reason: string; from: { epoch: number; batch: number; hash: string }; ts: number; rejournaled: number; acceptedAt: number | null } | null;
}

export interface PendingEpoch {
  epoch: number;
  reason: string;
  from: { epoch: number; batch: number; hash: string };
  ts: number;
  rejournaled: number;
  seenAt: number;
  /** readings of the pending chain may be of any time from here (the last reading of the batch it joins) */
  mayCoverFrom: number;
}

export interface CarriedJson {
  metric: string;
  /** the epoch whose copies were left out, and the one whose copies the report used */
  epoch: number;
  keptEpoch: number;
  duplicates: number;
  conflicts: number;
  from: number;
  to: number;
}

export async function epochsSection(store: SinkStore, device: string, rows: readonly StoredBatchRow[], to: number) {
  const restarts = await store.restarts(device);
  const used = new Map<number, EpochUsed>();
  for (const r of rows) {
    if (r.pruned) continue; // listed by batchesOverlapping whatever their time
    const epoch = epochOf(r.header);
    let u = used.get(epoch);
    if (!u) {
      const opened = restarts.find((x) => x.device === device && x.epoch === epoch);
      const restart = opened ? { reason: opened.reason, from: opened.from, ts: opened.ts, rejournaled: opened.rejournaled, acceptedAt: opened.acceptedAt } : null;
      used.set(epoch, (u = { epoch, batches: 0, readingsFrom: null, readingsTo: null, restart }));
    }
    u.batches++;
    if (r.minTs !== null) u.readingsFrom = Math.min(u.readingsFrom ?? Infinity, r.minTs);
    if (r.maxTs !== null) u.readingsTo = Math.max(u.readingsTo ?? -Infinity, r.maxTs);
  }
  const pending: PendingEpoch[] = [];
  for (const r of restarts.filter((x) => x.device === device && x.acceptedAt === null)) {
    const joined = await store.batch(device, r.from.batch, r.from.epoch);
    const mayCoverFrom = joined?.maxTs ?? joined?.header.created ?? r.ts;
    pending.push({ epoch: r.epoch, reason: r.reason, from: r.from, ts: r.ts, rejournaled: r.rejournaled, seenAt: r.seenAt, mayCoverFrom });
  }
  const pendingInPeriod = pending.filter((p) => to > p.mayCoverFrom);
  const warnings = pendingInPeriod.map((p) =>
    `recovery epoch ${p.epoch} (${p.reason}) waits for an admin's acceptance: its readings, which may be of any time after ${new Date(p.mayCoverFrom).toISOString()}, are not in this report`);
  return { used: [...used.values()].sort((a, b) => a.epoch - b.epoch), pending, pendingInPeriod: pendingInPeriod.length > 0, warnings };
}

/**
 * Records in journal order across recovery epochs (by epoch, then seq), each kept only the first
 * time its content (`sameAs`: the record but for its seq) is met: a record a later epoch carried
 * over unchanged is the earlier one, not a new one. For gap and plan records, which the index keeps
 * from every epoch.
 */
export function firstOfCarried<T extends { epoch?: number; seq: number }>(entries: readonly T[], sameAs: (e: T) => string): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const e of [...entries].sort((a, b) => (a.epoch ?? 1) - (b.epoch ?? 1) || a.seq - b.seq)) {
    const key = sameAs(e);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out;
}

export interface OutOfOrderJson {
  metric: string;
  epoch: number;
  count: number;
  from: number;
  to: number;
}

/**
 * A meter's readings of later epochs that the index could not take, per register, whose span
 * meets [from, to): carried copies of held readings, and readings stamped before the register's
 * last (out of order). Tallied over the whole series: the counts are not shared into periods.
 */
export function epochTalliesFor(tallies: EpochTallies, sensor: string, from: number, to: number): { carried: CarriedJson[]; outOfOrder: OutOfOrderJson[] } {
  const carried: CarriedJson[] = [];
  const outOfOrder: OutOfOrderJson[] = [];
  const meets = (t: { minTs: number; maxTs: number }) => t.minTs < to && t.maxTs >= from;
  for (const [metric, list] of ofSensor(tallies.carried, sensor)) {
    for (const t of list.filter(meets)) carried.push({ metric, epoch: t.epoch, keptEpoch: t.keptEpoch, duplicates: t.duplicates, conflicts: t.conflicts, from: t.minTs, to: t.maxTs });
  }
  for (const [metric, list] of ofSensor(tallies.outOfOrder, sensor)) {
    for (const t of list.filter(meets)) outOfOrder.push({ metric, epoch: t.epoch, count: t.count, from: t.minTs, to: t.maxTs });
  }
  const order = (a: { metric: string; epoch: number }, b: { metric: string; epoch: number }) => a.metric.localeCompare(b.metric) || a.epoch - b.epoch;
  return { carried: carried.sort(order), outOfOrder: outOfOrder.sort(order) };
}

/** The entries of a per-series-key record whose sensor is `sensor`, by metric. */
function ofSensor<T>(bySeries: Record<string, T>, sensor: string): [string, T][] {
  const out: [string, T][] = [];
  for (const [key, v] of Object.entries(bySeries)) {
    const [s, metric] = key.split('\u0000');
    if (s === sensor) out.push([metric!, v]);
  }
  return out;
}
