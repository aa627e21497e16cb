// Accepting one batch, cheapest signed thing first: the header is well formed, its device is
// registered with this key and the signature verifies (checkHeader, before a record is read);
// then the records are exactly first..last and hash to the signed root (protocol/batch.ts
// checkRecords), and the batch is the next of the device's chain (the store, atomically). Every
// refusal has its own status and a one-line reason, and is counted.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { checkRecords, epochOf, headerHash, headerProblem, verifyHeaderSignature, type BatchHeader } from '../protocol/batch.ts';
import { canonicalize } from '../protocol/canonical.ts';
import { coverProblem, type PruneCover } from '../protocol/prune-cover.ts';
import { recordSizeProblem } from '../protocol/records.ts';
import { rootOfJoined } from './leaves.ts';
import { ThrottledWarn } from '../kernel/log-throttle.ts';
import { counter, histogram } from '../kernel/metrics.ts';
import { keyVerdict, type DeviceRegistry } from './registry.ts';
import type { ReceiptSigner } from './receipts.ts';
import { RestartGate, type EpochVerdict } from './restart-gate.ts';
import type { ChainSequencer } from './sequencer.ts';
import type { SinkStore, TimeFlag } from './store/types.ts';
import type { HeaderVerdict } from './wire/body.ts';
import type { DecodedBatch } from './wire/errors.ts';
import { readingsOnArrival } from './readings/arrival.ts';
import type { ReadingRow } from './readings/types.ts';

export interface IngestReply {
  status: number;
  body: Record<string, unknown>;
}

export interface IngestDeps {
  store: SinkStore;
  registry: DeviceRegistry;
  sequencer: ChainSequencer;
  /** signs the receipt every acceptance (stored or duplicate) carries */
  receipts: ReceiptSigner;
  log: Logger;
  metrics: Registry;
  chainWaitMs: number;
  /** a batch created more than this after its arrival is flagged `future` (sink config time.futureToleranceMs) */
  futureToleranceMs?: number;
  now?: () => number;
}

/** The first record of `lines` too large for a proof of it to be read (signed or not, no proof could be checked), as a reason. */
function oversizedRecord(lines: readonly string[]): string | null {
  for (let i = 0; i < lines.length; i++) {
    const problem = recordSizeProblem(lines[i]!);
    if (problem) return `record ${i}: ${problem}`;
  }
  return null;
}

/** devices whose last stored batch is remembered; beyond it the memory starts again (the store is asked meanwhile) */
const MAX_LAST_STORED = 100_000;
/**
 * Equivocation reports kept per chain of a device. One proves the device signed two batches under
 * one number; a key that signs them without end (stolen, or broken firmware) would otherwise cost a
 * synced write, a log line and a row that every fleet view reads back, per offer.
 */
export const MAX_EQUIVOCATION_REPORTS = 32;

/** A batch's records checked against its header: what the stores keep of them, and what the restart gate needs. */
interface CheckedBatch {
  /** the canonical lines joined by newlines */
  text: string;
  count: number;
  minTs: number | null;
  maxTs: number | null;
  pruned: boolean;
  cover: PruneCover | null;
  /** the batch's readings as decoded, for the readings index (taken before the body is let go of) */
  readings: ReadingRow[];
  /** the body cut to its first record, for a batch of epoch 2 on (null in epoch 1) */
  firstOnly: DecodedBatch | null;
}

/**
 * Empties a body's lines or records once they are checked and joined into the text the store
 * takes. A batch may wait a while for the store, and whatever still refers to the body meanwhile
 * (the request's suspended frames) would keep every line or record alive with it: with a hundred
 * batches waiting, the collector copied them over and over, a sixth of the sink's time.
 */
function letGo(items: unknown[]): void {
  items.length = 0;
}

function stop(answer: IngestReply): HeaderVerdict<IngestReply> {
  return { proceed: false, answer };
}

export class Ingest {
  private readonly m;
  private readonly logThrottle: ThrottledWarn;
  private readonly gate: RestartGate;

  private readonly deps: IngestDeps;
  /** per device, the last batch this process stored: what the next one's time is compared with */
  private readonly lastStored = new Map<string, { epoch: number; batch: number; created: number }>();

  constructor(deps: IngestDeps) {
    this.deps = deps;
    this.logThrottle = new ThrottledWarn(deps.log, 1000);
    this.gate = new RestartGate({ store: deps.store, log: deps.log, metrics: deps.metrics, now: deps.now ?? Date.now });
    const reg = deps.metrics;
    this.m = {
      batches: counter(reg, 'fieldproof_sink_batches_total', 'Batches offered to the sink, by outcome', ['outcome']),
      records: counter(reg, 'fieldproof_sink_records_stored_total', 'Records stored'),
      refused: counter(reg, 'fieldproof_sink_refused_total', 'Batches refused, by reason', ['reason']),
      equivocations: counter(reg, 'fieldproof_sink_equivocations_total', 'Different batches offered under a number already held'),
      equivocationsNotKept: counter(reg, 'fieldproof_sink_equivocation_reports_not_kept_total', `Equivocations not kept as reports: their chain has ${MAX_EQUIVOCATION_REPORTS} already`),
      timeFlags: counter(reg, 'fieldproof_sink_time_flags_total', 'Batches stored with a flag on their time: future, backwards, unsynced (device clock not synchronised)', ['flag']),
      verifySeconds: histogram(reg, 'fieldproof_sink_verify_seconds', 'Time to verify one batch', [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5]),
      // the database's (or LevelDB's) part of accepting a batch: bench fleet divides its sum by the time to acceptance
      storeSeconds: histogram(reg, 'fieldproof_sink_store_seconds', 'Time spent in the store while accepting batches: the duplicate lookup, and the chain check with the insert', [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5], ['op']),
    };
  }

  private refuse(status: number, reason: string, error: string, extra: Record<string, unknown> = {}): IngestReply {
    this.m.refused.inc({ reason });
    this.m.batches.inc({ outcome: 'refused' });
    this.logThrottle.warn(reason, { error, ...extra }, 'batch refused');
    return { status, body: { error, code: reason, ...extra } };
  }

  private refuseEpoch(v: Extract<EpochVerdict, { kind: 'refuse' }>, header: BatchHeader): IngestReply {
    return this.refuse(v.status, v.code, v.error, { device: header.device, epoch: epochOf(header), batch: header.batch });
  }

  /** A 200: the batch is held, and the receipt says so under the sink's key (and whether as pruned). */
  private accepted(status: 'stored' | 'duplicate', header: BatchHeader, hash: string, pruned: boolean): IngestReply {
    const ids = { device: header.device, batch: header.batch };
    return { status: 200, body: { status, ...ids, hash, receipt: this.deps.receipts.sign({ ...ids, header: hash, pruned }) } };
  }

  /**
   * What is off about a batch's time, judged by the sink's clock and the chain: accepted all the
   * same (a device with a wrong clock still has real data), but stored with the flags and counted.
   * `backwards` compares with the batch the sink holds under the number before, the one this batch
   * must chain to.
   */
  private async timeFlagsOf(header: BatchHeader, receivedAt: number): Promise<TimeFlag[]> {
    const flags: TimeFlag[] = [];
    if (header.created > receivedAt + (this.deps.futureToleranceMs ?? 5 * 60_000)) flags.push('future');
    if (header.batch > 1) {
      const created = await this.createdOfPrevious(header);
      if (created !== null && created > header.created) flags.push('backwards');
    }
    if (header.clock?.synced === false) flags.push('unsynced');
    return flags;
  }

  /**
   * `created` of the batch the store holds under the number before this one, null when none. A
   * stored batch never changes, so when this process stored that very batch (the usual case: a
   * device's batches come in order to one process) its header is known without asking the store.
   */
  private async createdOfPrevious(header: BatchHeader): Promise<number | null> {
    const epoch = epochOf(header);
    const mine = this.lastStored.get(header.device);
    if (mine !== undefined && mine.epoch === epoch && mine.batch === header.batch - 1) return mine.created;
    const previous = await this.deps.store.batch(header.device, header.batch - 1, epoch);
    return previous ? previous.header.created : null;
  }

  /** Noted after each batch this process stores; one entry a device, bounded as the registry is. */
  private noteStored(header: BatchHeader): void {
    if (this.lastStored.size >= MAX_LAST_STORED && !this.lastStored.has(header.device)) this.lastStored.clear();
    this.lastStored.set(header.device, { epoch: epochOf(header), batch: header.batch, created: header.created });
  }

  /** A request that never got as far as a batch (unreadable body, wrong type, too large). */
  refusedBody(status: number, error: string): IngestReply {
    const reason = ({ 413: 'too_large', 415: 'unsupported_type', 422: 'bad_records', 429: 'busy' } as Record<number, string>)[status] ?? 'bad_body';
    return this.refuse(status, reason, error);
  }

  /**
   * The cheap checks, run as soon as the header has arrived and before any record is read: its
   * shape, the device registered with this key, the signature. A header the sink already holds
   * is answered as a duplicate at once: the records its root commits to are stored, so the ones
   * sent again need not be read (and a replayed public header costs no more than this).
   */
  async checkHeader(raw: unknown): Promise<HeaderVerdict<IngestReply>> {
    const hp = headerProblem(raw);
    if (hp) return stop(this.refuse(400, 'bad_header', hp));
    const header = raw as BatchHeader;
    const entry = await this.deps.registry.entry(header.device, header.key);
    if (entry === null) return stop(this.refuse(403, 'unknown_device', `device ${header.device} is not registered with this sink`, { device: header.device }));
    const verdict = keyVerdict(entry, header.key, header.created);
    if (verdict === 'wrong_key') return stop(this.refuse(403, 'wrong_key', `batch ${header.batch} of ${header.device} is signed with key ${header.key}, not the device's registered key`, { device: header.device }));
    const ids = { device: header.device, batch: header.batch };
    if (!verifyHeaderSignature(header)) return stop(this.refuse(422, 'bad_signature', `batch ${header.batch} of ${header.device}: signature does not verify`, ids));
    // A batch beyond the head this process knows in its epoch is new here (the usual case) and
    // needs no lookup; if another process stored it meanwhile, the commit answers duplicate all the same.
    const epoch = epochOf(header);
    const known = this.deps.sequencer.knownHead(header.device, epoch);
    let held: { hash: string; pruned: boolean } | null = null;
    if (known === null || header.batch <= known) {
      const looked = performance.now();
      held = await this.deps.store.heldBatch(header.device, header.batch, epoch);
      this.m.storeSeconds.observe({ op: 'lookup' }, (performance.now() - looked) / 1000);
    }
    if (held !== null) {
      const hash = headerHash(header);
      if (held.hash === hash) {
        this.m.batches.inc({ outcome: 'duplicate' });
        return stop(this.accepted('duplicate', header, hash, held.pruned));
      }
    }
    // A batch the sink holds already is acknowledged above; nothing new of a revoked key is taken or anchored.
    if (verdict === 'revoked_key') return stop(this.refuse(403, 'revoked_key', `batch ${header.batch} of ${header.device} is signed with key ${header.key}, which is revoked`, ids));
    // A later epoch waits for an admin, an earlier one is closed: answered before any record is
    // read. A batch of epoch 1 that this process has seen the chain of is left to the store, which
    // answers other_epoch should the device have moved on meanwhile.
    if (epoch > 1 || known === null) {
      const gate = await this.gate.beforeRecords(header, await this.deps.store.head(header.device));
      if (gate.kind === 'refuse') return stop(this.refuseEpoch(gate, header));
    }
    return { proceed: true, records: header.count };
  }

  /**
   * The records of a header `checkHeader` let through, then the chain and the store. The body is
   * consumed: once its records are checked and joined they are let go of (see letGo).
   */
  async accept(header: BatchHeader, decoded: DecodedBatch): Promise<IngestReply> {
    const started = performance.now();
    const checked = this.checkedRecords(header, decoded);
    if ('refused' in checked) return checked.refused;
    this.m.verifySeconds.observe((performance.now() - started) / 1000);
    return this.commitChecked(header, checked);
  }

  /** The records exactly first..last of this header, hashing to its root, as the stores keep them; or the refusal. */
  /** the decoded readings the store's index takes, none when it keeps no index */
  private readingsOf(decoded: DecodedBatch): ReadingRow[] {
    return this.deps.store.indexesReadings ? readingsOnArrival(decoded) : [];
  }

  private checkedRecords(header: BatchHeader, decoded: DecodedBatch): CheckedBatch | { refused: IngestReply } {
    const ids = { device: header.device, batch: header.batch };
    const refused = (status: number, reason: string, error: string, extra: Record<string, unknown> = {}) => ({ refused: this.refuse(status, reason, error, extra) });
    // all the restart gate reads of a body is its first record
    const firstOnly = (): DecodedBatch | null => (epochOf(header) === 1 ? null
      : decoded.lines ? { ...decoded, lines: decoded.lines.slice(0, 1) }
      : { ...decoded, records: Array.isArray(decoded.records) ? decoded.records.slice(0, 1) : decoded.records });
    if (decoded.pruned) {
      const n = decoded.lines ? decoded.lines.length : Array.isArray(decoded.records) ? decoded.records.length : -1;
      if (n !== 0) return refused(400, 'bad_body', 'a pruned batch carries no records');
      // Only the device's own signed gap record naming this header makes it a prune; anyone can
      // replay a public header with the flag set.
      const problem = coverProblem(header, decoded.cover);
      if (problem) return refused(422, 'uncovered_prune', `batch ${header.batch} of ${header.device} sent as pruned is refused: ${problem}`, ids);
      return { text: '', count: 0, minTs: null, maxTs: null, pruned: true, cover: decoded.cover as PruneCover, readings: [], firstOnly: firstOnly() };
    }
    if (decoded.cover !== undefined) return refused(400, 'bad_body', 'only a pruned batch carries a cover');
    if (decoded.lines) {
      // Columnar: the decoder rebuilt the canonical lines and checked each field; what is left is
      // the count and the root over exactly these bytes.
      if (decoded.lines.length !== header.count) return refused(422, 'bad_records', `batch ${header.batch} of ${header.device}: expected ${header.count} records, got ${decoded.lines.length}`, ids);
      const oversized = oversizedRecord(decoded.lines);
      if (oversized) return refused(422, 'bad_records', `batch ${header.batch} of ${header.device}: ${oversized}`, ids);
      const text = decoded.lines.join('\n');
      const count = decoded.lines.length;
      if (rootOfJoined(text, count).toString('hex') !== header.root) {
        return refused(422, 'bad_root', `batch ${header.batch} of ${header.device}: root does not match the records`, ids);
      }
      const checked = { text, count, minTs: decoded.minTs, maxTs: decoded.maxTs, pruned: false, cover: null, readings: this.readingsOf(decoded), firstOnly: firstOnly() };
      letGo(decoded.lines);
      return checked;
    }
    const check = checkRecords(header, decoded.records);
    if (!check.ok) {
      const reason = check.reason.startsWith('root') ? 'bad_root' : 'bad_records';
      return refused(422, reason, `batch ${header.batch} of ${header.device}: ${check.reason}`, ids);
    }
    const records = decoded.records as Record<string, unknown>[];
    const lines: string[] = new Array(records.length);
    let minTs: number | null = null;
    let maxTs: number | null = null;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      lines[i] = canonicalize(r);
      if (r.kind === 'reading') {
        const ts = r.ts as number;
        if (minTs === null || ts < minTs) minTs = ts;
        if (maxTs === null || ts > maxTs) maxTs = ts;
      }
    }
    const oversized = oversizedRecord(lines);
    if (oversized) return refused(422, 'bad_records', `batch ${header.batch} of ${header.device}: ${oversized}`, ids);
    const checked = { text: lines.join('\n'), count: lines.length, minTs, maxTs, pruned: false, cover: null, readings: this.readingsOf(decoded), firstOnly: firstOnly() };
    letGo(records);
    return checked;
  }

  /** A checked batch through the epoch gate, the time checks and the chain, into the store. */
  private async commitChecked(header: BatchHeader, checked: CheckedBatch): Promise<IngestReply> {
    const { text, count, minTs, maxTs, pruned, cover, readings } = checked;
    const ids = { device: header.device, batch: header.batch };
    const epoch = epochOf(header);
    if (epoch > 1) {
      // The epoch may have been accepted, or the restart noted, since checkHeader looked.
      const head = await this.deps.store.head(header.device);
      const verdict = epoch > head.epoch ? await this.gate.noteRestart(header, checked.firstOnly!) : await this.gate.beforeRecords(header, head);
      if (verdict.kind === 'refuse') return this.refuseEpoch(verdict, header);
    }

    const hash = headerHash(header);
    const receivedAt = (this.deps.now ?? Date.now)();
    const timeFlags = await this.timeFlagsOf(header, receivedAt);
    const outcome = await this.deps.sequencer.commit(header.device, epoch, header.batch, this.deps.chainWaitMs, async () => {
      const committing = performance.now();
      try {
        return await this.deps.store.commitBatch({ header, hash, text, pruned, readings, ...(cover ? { cover } : {}), ...(timeFlags.length > 0 ? { timeFlags } : {}), minTs, maxTs, receivedAt });
      } finally {
        this.m.storeSeconds.observe({ op: 'commit' }, (performance.now() - committing) / 1000);
      }
    });
    switch (outcome.status) {
      case 'stored':
        this.noteStored(header);
        for (const flag of timeFlags) this.m.timeFlags.inc({ flag });
        if (timeFlags.length > 0) this.logThrottle.warn('time_flags', { ...ids, timeFlags, created: header.created, receivedAt, clock: header.clock }, 'batch stored with its time flagged');
        this.m.batches.inc({ outcome: pruned ? 'stored_pruned' : 'stored' });
        this.m.records.inc(count);
        return this.accepted('stored', header, hash, pruned);
      case 'duplicate': {
        this.m.batches.inc({ outcome: 'duplicate' });
        const held = await this.deps.store.heldBatch(header.device, header.batch, epoch);
        return this.accepted('duplicate', header, hash, held?.pruned === true);
      }
      case 'equivocation': {
        this.m.equivocations.inc();
        // One report per conflicting pair: a device that offers the same batch again adds nothing.
        const kept = await this.deps.store.reportEquivocation({ ...ids, epoch, storedHash: outcome.storedHash, offeredHash: hash, offeredHeader: header, reportedAt: receivedAt }, MAX_EQUIVOCATION_REPORTS);
        if (kept === 'new') this.deps.log.error({ ...ids, epoch, storedHash: outcome.storedHash, offeredHash: hash }, 'device equivocates: a different batch under a number already held');
        if (kept === 'full') {
          this.m.equivocationsNotKept.inc();
          this.logThrottle.warn('equivocation_reports_full', { ...ids, epoch, offeredHash: hash, kept: MAX_EQUIVOCATION_REPORTS }, 'device keeps equivocating; this offer is refused and counted but not kept as a report');
        }
        return this.refuse(409, 'equivocation', `batch ${header.batch} of ${header.device} differs from the batch already held under that number; reported`, { ...ids, storedHash: outcome.storedHash });
      }
      case 'out_of_order':
        return this.refuse(409, 'out_of_order', outcome.reason, { ...ids, have: outcome.have });
      case 'other_epoch': {
        const verdict = await this.gate.beforeRecords(header, await this.deps.store.head(header.device));
        if (verdict.kind === 'refuse') return this.refuseEpoch(verdict, header);
        return this.refuse(409, 'out_of_order', `the device's epoch changed while batch ${header.batch} was checked`, { ...ids, have: 0 });
      }
    }
  }
}
