// The embedded store: one LevelDB in the sink's data dir, used by one sink process (LevelDB locks
// its folder). Batch commits are group-committed: the requests that arrive while a write is
// synced go out together in the next synced write, each checked against the chain state the ones
// before it leave.

import type { Level } from 'level';
import type { Logger } from 'pino';
import { epochOf, type BatchHeader } from '../../protocol/batch.ts';
import { ZERO_HASH } from '../../protocol/hash.ts';
import { LevelOpenError, openLevel } from '../../kernel/level-open.ts';
import { LevelMrvStore } from '../mrv/store/level-mrv-store.ts';
import type { MrvStore } from '../mrv/store/types.ts';
import { chainDecision } from './chain.ts';
import { LevelReadingsLayout } from '../readings/level-layout.ts';
import { LevelReadingsIndex, readingPuts, type ReadingPut } from '../readings/level-readings.ts';
import { readingRows, type ReadingsIndex } from '../readings/types.ts';
import { AnchoredStore } from './anchored-store.ts';
import { LevelAnchors } from './level-anchors.ts';
import { K, type Op, type RowValue } from './level-keys.ts';
import { chainKey, LevelRestarts } from './level-restarts.ts';
import {
  type AcceptRestartOutcome, type AnchorRow, type BatchToStore, type CommitOutcome, type EquivocationReport, type Head,
  type RegisteredDevice, type RestartRow, type SinkStore, type StoredBatchRow, type TimeFlagCounts,
} from './types.ts';

interface Queued {
  batch: BatchToStore;
  resolve: (o: CommitOutcome) => void;
  reject: (e: Error) => void;
}

/** The anchors' methods of SinkStore are AnchoredStore's, asking level-anchors.ts. */
export class LevelSinkStore extends AnchoredStore implements SinkStore {
  readonly kind = 'level' as const;
  private db: Level<string, string> | null = null;
  private readonly heads = new Map<string, Head>();
  private queue: Queued[] = [];
  private flushing: Promise<void> | null = null;
  private writeChain: Promise<unknown> = Promise.resolve();
  private acceptSeq = 0;
  private readonly restartsPart = new LevelRestarts(() => this.level);
  protected readonly anchorsPart = new LevelAnchors({ level: () => this.level, serialized: (fn) => this.serialized(fn) });

  private readonly dir: string;
  readonly indexesReadings: boolean;
  private readonly readingsLayout: LevelReadingsLayout;

  /** `readings`: keep the readings index (cloud-sink/readings/) with every batch; on by default */
  constructor(dir: string, opts: { readings?: boolean; log?: Logger } = {}) {
    super();
    this.dir = dir;
    this.indexesReadings = opts.readings ?? true;
    this.readingsLayout = new LevelReadingsLayout({ level: () => this.level, held: this, ...(opts.log ? { log: opts.log } : {}) });
  }

  private get level(): Level<string, string> {
    if (!this.db) throw new Error('the sink store is not open');
    return this.db;
  }

  async open(): Promise<void> {
    let db: Level<string, string>;
    try {
      db = await openLevel(this.dir);
    } catch (err) {
      if (err instanceof LevelOpenError && err.locked) throw new Error(`sink store ${this.dir} is in use by another sink process (a LevelDB store serves one process; use store: postgres for several)`);
      throw new Error(`cannot open the sink store at ${this.dir}: ${(err as Error).message}`);
    }
    this.db = db;
    this.acceptSeq = Number((await db.get(K.acceptCounter)) ?? 0);
    await this.anchorsPart.load();
    // the first layout converted, and batches stored while the index was off indexed (level-layout.ts)
    if (this.indexesReadings) await this.readingsLayout.open();
    else await this.readingsLayout.off();
  }

  async close(): Promise<void> {
    if (this.flushing) await this.flushing;
    await this.writeChain.catch(() => undefined);
    await this.db?.close();
    this.db = null;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeChain.then(fn);
    this.writeChain = run.catch(() => undefined);
    return run;
  }

  // ------------------------------------------------------------------ batches

  commitBatch(batch: BatchToStore): Promise<CommitOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      this.commitQueued();
    });
  }

  /** One flush at a time; what queues up meanwhile goes out in the next one. */
  private commitQueued(): void {
    this.flushing ??= this.serialized(() => this.flush()).finally(() => {
      this.flushing = null;
      if (this.queue.length > 0) this.commitQueued();
    });
  }

  private async flush(): Promise<void> {
    const items = this.queue;
    this.queue = [];
    const ops: (Op | ReadingPut)[] = [];
    const outcomes: CommitOutcome[] = [];
    const tentative = new Map<string, Head>();
    const addedHashes = new Map<string, string>();
    const flagCounts = new Map<string, TimeFlagCounts>();
    const acceptBefore = this.acceptSeq;
    try {
      for (const { batch } of items) {
        const { header, hash } = batch;
        const device = header.device;
        const d = chainKey(device, epochOf(header));
        const head = tentative.get(device) ?? (await this.head(device));
        let stored: string | null = null;
        if (header.batch <= head.batch || epochOf(header) !== head.epoch) {
          stored = addedHashes.get(`${d}!${header.batch}`) ?? null;
          if (stored === null) {
            const row = await this.level.get(K.row(d, header.batch));
            stored = row ? (JSON.parse(row) as RowValue).hash : null;
          }
        }
        const decision = chainDecision(head, header, hash, stored);
        if (decision !== 'append') {
          outcomes.push(decision);
          continue;
        }
        const row: RowValue = { header, hash, pruned: batch.pruned, minTs: batch.minTs, maxTs: batch.maxTs, receivedAt: batch.receivedAt };
        if (batch.cover) row.cover = batch.cover;
        if (batch.timeFlags && batch.timeFlags.length > 0) row.timeFlags = batch.timeFlags;
        const next: Head = { epoch: head.epoch, batch: header.batch, hash, last: header.last };
        const accept = ++this.acceptSeq;
        ops.push(
          { type: 'put', key: K.row(d, header.batch), value: JSON.stringify(row) },
          { type: 'put', key: K.seq(d, header.first), value: String(header.batch) },
          { type: 'put', key: K.head(device), value: JSON.stringify(next) },
          { type: 'put', key: K.unanchored(accept), value: `${d}!${header.batch}` },
        );
        if (!batch.pruned) ops.push({ type: 'put', key: K.lines(d, header.batch), value: batch.text });
        if (batch.timeFlags && batch.timeFlags.length > 0) {
          // counted per device across its epochs, as the fleet and the report show them
          const counts = flagCounts.get(device) ?? (await this.flagCountsOf(device));
          for (const f of batch.timeFlags) counts[f]++;
          flagCounts.set(device, counts);
          ops.push({ type: 'put', key: K.timeFlags(device), value: JSON.stringify(counts) });
        }
        // in the same write: an accepted batch is queryable, and a duplicate never gets this far
        if (this.indexesReadings && !batch.pruned) for (const op of readingPuts(device, header.batch, batch.readings ?? readingRows(batch.text), epochOf(header))) ops.push(op);
        tentative.set(device, next);
        addedHashes.set(`${d}!${header.batch}`, hash);
        outcomes.push({ status: 'stored' });
      }
      if (ops.length > 0) {
        ops.push({ type: 'put', key: K.acceptCounter, value: String(this.acceptSeq) });
        await this.level.batch<string, string | Buffer>(ops, { sync: true });
      }
    } catch (err) {
      this.acceptSeq = acceptBefore;
      for (const it of items) it.reject(err as Error);
      return;
    }
    for (const [d, h] of tentative) this.heads.set(d, h);
    items.forEach((it, i) => it.resolve(outcomes[i]!));
  }

  async head(device: string): Promise<Head> {
    const cached = this.heads.get(device);
    if (cached) return cached;
    const text = await this.level.get(K.head(device));
    // A commit may have stored a batch while this read waited, and cached the head it wrote: that
    // one is newer than what was read, and must not be replaced by it.
    const committed = this.heads.get(device);
    if (committed) return committed;
    if (!text) return { epoch: 1, batch: 0, hash: ZERO_HASH, last: 0 };
    // Cached only for devices that hold batches: a lookup of any other name leaves nothing behind.
    // A head written before epochs existed is of epoch 1.
    const head = { epoch: 1, ...(JSON.parse(text) as Partial<Head>) } as Head;
    this.heads.set(device, head);
    return head;
  }

  private async rowFrom(device: string, batchNo: number, text: string | undefined): Promise<StoredBatchRow | null> {
    if (text === undefined) return null;
    const v = JSON.parse(text) as RowValue;
    const m = await this.level.get(K.membership(device, batchNo));
    const [anchorId, anchorIndex] = m ? m.split(':').map(Number) : [null, null];
    return { ...v, anchorId: anchorId ?? null, anchorIndex: anchorIndex ?? null };
  }

  async batch(device: string, batchNo: number, epoch = 1): Promise<StoredBatchRow | null> {
    const d = chainKey(device, epoch);
    return this.rowFrom(d, batchNo, await this.level.get(K.row(d, batchNo)));
  }

  async heldBatch(device: string, batchNo: number, epoch = 1): Promise<{ hash: string; pruned: boolean } | null> {
    // the head is cached: a batch beyond it in the current epoch (the usual case) costs no read
    const head = await this.head(device);
    if (head.epoch === epoch && batchNo > head.batch) return null;
    const row = await this.batch(device, batchNo, epoch);
    return row ? { hash: row.hash, pruned: row.pruned } : null;
  }

  async batchForSeq(device: string, seq: number, epoch = 1): Promise<StoredBatchRow | null> {
    const d = chainKey(device, epoch);
    for await (const [, value] of this.level.iterator({ gte: K.seqPrefix(d), lte: K.seq(d, seq), reverse: true, limit: 1 })) {
      const row = await this.batch(device, Number(value), epoch);
      if (row && row.header.first <= seq && seq <= row.header.last) return row;
    }
    return null;
  }

  async records(device: string, batchNo: number, epoch = 1): Promise<string[]> {
    const text = await this.level.get(K.lines(chainKey(device, epoch), batchNo));
    return text === undefined || text === '' ? [] : text.split('\n');
  }

  async *batches(device: string, from = 1, epoch = 1): AsyncIterable<{ row: StoredBatchRow; lines: string[] }> {
    const d = chainKey(device, epoch);
    const range = K.rowRange(d);
    for await (const [key, value] of this.level.iterator({ gte: K.row(d, from), lt: range.lt })) {
      const b = Number(key.slice(key.lastIndexOf('!') + 1));
      const row = (await this.rowFrom(d, b, value))!;
      yield { row, lines: row.pruned ? [] : await this.records(device, b, epoch) };
    }
  }

  async epochs(device: string): Promise<number[]> {
    const out: number[] = [];
    for (const e of [1, ...(await this.restartsPart.acceptedEpochs(device))]) {
      for await (const _ of this.level.keys({ ...K.rowRange(chainKey(device, e)), limit: 1 })) out.push(e);
    }
    return out;
  }

  async batchesOverlapping(device: string, fromTs: number, toTs: number): Promise<StoredBatchRow[]> {
    const out: StoredBatchRow[] = [];
    for (const epoch of await this.epochs(device)) {
      const d = chainKey(device, epoch);
      for await (const [key, value] of this.level.iterator(K.rowRange(d))) {
        const v = JSON.parse(value) as RowValue;
        const overlaps = v.pruned || (v.minTs !== null && v.maxTs !== null && v.minTs < toTs && v.maxTs >= fromTs);
        if (!overlaps) continue;
        out.push((await this.rowFrom(d, Number(key.slice(key.lastIndexOf('!') + 1)), value))!);
      }
    }
    return out;
  }

  private async flagCountsOf(device: string): Promise<TimeFlagCounts> {
    const text = await this.level.get(K.timeFlags(device));
    return text ? (JSON.parse(text) as TimeFlagCounts) : { future: 0, backwards: 0, unsynced: 0 };
  }

  async timeFlagCounts(): Promise<Map<string, TimeFlagCounts>> {
    const out = new Map<string, TimeFlagCounts>();
    for await (const [key, value] of this.level.iterator({ gte: 'tf!', lt: 'tf!~' })) out.set(key.slice(3), JSON.parse(value) as TimeFlagCounts);
    return out;
  }

  async devices(): Promise<string[]> {
    const out: string[] = [];
    for await (const key of this.level.keys({ gte: 'hd!', lt: 'hd!~' })) out.push(key.slice(3));
    return out;
  }

  // ------------------------------------------------------------------ registry, reports

  addDevice(device: RegisteredDevice): Promise<'added' | 'exists' | 'conflict'> {
    return this.serialized(async () => {
      const text = await this.level.get(K.device(device.id));
      if (text) return (JSON.parse(text) as RegisteredDevice).key === device.key ? 'exists' : 'conflict';
      await this.level.put(K.device(device.id), JSON.stringify(device), { sync: true });
      return 'added';
    });
  }

  async registeredDevice(id: string): Promise<RegisteredDevice | null> {
    const text = await this.level.get(K.device(id));
    return text ? (JSON.parse(text) as RegisteredDevice) : null;
  }

  putDevice(device: RegisteredDevice): Promise<void> {
    return this.serialized(() => this.level.put(K.device(device.id), JSON.stringify(device), { sync: true }));
  }

  async registeredDevices(): Promise<RegisteredDevice[]> {
    const out: RegisteredDevice[] = [];
    for await (const value of this.level.values({ gte: 'd!', lt: 'd!~' })) out.push(JSON.parse(value) as RegisteredDevice);
    return out;
  }

  reportEquivocation(r: EquivocationReport, maxPerChain: number): Promise<'new' | 'known' | 'full'> {
    return this.serialized(() => this.restartsPart.reportEquivocation(K.equivocation(r.reportedAt, chainKey(r.device, r.epoch), r.batch), r, maxPerChain));
  }

  async equivocations(): Promise<EquivocationReport[]> {
    const out: EquivocationReport[] = [];
    for await (const value of this.level.values({ gte: 'e!', lt: 'e!~' })) out.push({ epoch: 1, ...(JSON.parse(value) as Omit<EquivocationReport, 'epoch'>) });
    return out;
  }

  noteRestart(r: RestartRow): Promise<boolean> {
    return this.serialized(() => this.restartsPart.note(r));
  }

  restarts(device?: string): Promise<RestartRow[]> {
    return this.restartsPart.list(device);
  }

  /** In the write chain, after any flush queued before it: no batch is checked against a head that is being replaced. */
  acceptRestart(device: string, epoch: number, now: number): Promise<AcceptRestartOutcome> {
    return this.serialized(async () => {
      const outcome = await this.restartsPart.accept(device, epoch, now, await this.head(device), async (d, b, e) => (await this.batch(d, b, e))?.hash ?? null, K.head(device));
      if (outcome.status === 'accepted') this.heads.set(device, outcome.head);
      return outcome;
    });
  }

  mrvStore(): MrvStore {
    return new LevelMrvStore(() => this.level);
  }

  readings(): ReadingsIndex | null {
    return this.indexesReadings ? new LevelReadingsIndex(() => this.level) : null;
  }
}
