// Keeps a device's MRV index up to date with its stored batches: from the last batch indexed on,
// in order, committing every few hundred batches with the progress, so that a catch-up cut short
// (a restart, a crash) carries on where it stopped and never indexes a batch twice.
import type { Logger } from 'pino';
import type { PlanRecord } from '../../../protocol/plan.ts';
import { silentLogger } from '../../../kernel/log.ts';
import type { SinkStore } from '../../store/types.ts';
import type { MrvStore } from '../store/types.ts';
import { emptyIndexerState, IndexBuilder, type BatchInput } from './index-builder.ts';

export interface RegisterIndexDeps {
  store: SinkStore;
  mrv: MrvStore;
  log?: Logger;
  /** batches per commit */
  commitEvery?: number;
  /** register readings held before a commit regardless */
  maxPendingPoints?: number;
}

export interface CatchUpOutcome {
  batches: number;
  indexedThrough: number;
}

export type BatchSource = AsyncIterable<{ row: BatchInput; lines: string[] }>;

export class RegisterIndex {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly log: Logger;

  private readonly deps: RegisterIndexDeps;

  constructor(deps: RegisterIndexDeps) {
    this.deps = deps;
    this.log = deps.log ?? silentLogger();
  }

  /** Index what the store holds beyond the index. Calls for one device run one after another. */
  catchUp(device: string): Promise<CatchUpOutcome> {
    return this.serial(device, async () => {
      const [head, indexed] = await Promise.all([this.deps.store.head(device), this.deps.mrv.indexedBatch(device)]);
      // The index reads epoch 1 (store.batches' default); a later epoch's head says nothing of it.
      if (head.epoch === 1 && head.batch <= indexed) return { batches: 0, indexedThrough: indexed };
      return this.index(device, (from) => this.deps.store.batches(device, from));
    });
  }

  /** Index batches from another source (already in order from the first unindexed one): the benchmark. */
  indexFrom(device: string, source: (from: number) => BatchSource): Promise<CatchUpOutcome> {
    return this.serial(device, () => this.index(device, source));
  }

  private serial<T>(device: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(device) ?? Promise.resolve()).then(fn);
    const settled = run.catch(() => undefined);
    this.queues.set(device, settled);
    void settled.then(() => {
      if (this.queues.get(device) === settled) this.queues.delete(device);
    });
    return run;
  }

  private index(device: string, source: (from: number) => BatchSource): Promise<CatchUpOutcome> {
    const commitEvery = this.deps.commitEvery ?? 500;
    const maxPending = this.deps.maxPendingPoints ?? 500_000;
    return this.deps.mrv.indexSession(device, async (session) => {
      const progress = (await session.progress()) ?? { batch: 0, state: emptyIndexerState() };
      const latest = new Map<string, PlanRecord>();
      for (const p of await this.deps.mrv.plans(device)) latest.set(p.record.sensor, p.record);
      const builder = new IndexBuilder(progress.state, session, latest);
      let last = progress.batch;
      let flushed = last;
      let since = 0;
      const started = Date.now();
      for await (const { row, lines } of source(last + 1)) {
        const b = row.header.batch;
        if (b <= last) continue; // another process indexed it while this one waited for the lock
        if (b !== last + 1) throw new Error(`MRV index of ${device}: batch ${b} follows ${last}; the store has a hole`);
        builder.addBatch(row, lines);
        last = b;
        if (++since % commitEvery === 0 || builder.pendingPoints >= maxPending) {
          await builder.flush(last);
          flushed = last;
          this.log.info({ device, indexedThrough: last, batches: since, ms: Date.now() - started }, 'MRV index catching up');
        }
      }
      if (last > flushed) await builder.flush(last);
      return { batches: last - progress.batch, indexedThrough: last };
    });
  }
}
