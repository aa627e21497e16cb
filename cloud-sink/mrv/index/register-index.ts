// Keeps a device's MRV index up to date with its stored batches: from the last batch indexed on,
// in order, committing every few hundred batches with the progress, so that a catch-up cut short
// (a restart, a crash) carries on where it stopped and never indexes a batch twice. The recovery
// epochs the sink holds are indexed one after another, each chain from its batch 1: an epoch's
// batches are stored only once an admin accepted it, and its predecessor is closed by then, so
// (epoch, batch) only ever grows.
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
  /** the last batch indexed, of the epoch `epoch` */
  indexedThrough: number;
  epoch: number;
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
      const [head, indexed] = await Promise.all([this.deps.store.head(device), this.deps.mrv.indexedThrough(device)]);
      if (head.epoch < indexed.epoch || (head.epoch === indexed.epoch && head.batch <= indexed.batch)) {
        return { batches: 0, indexedThrough: indexed.batch, epoch: indexed.epoch };
      }
      const epochs = await this.deps.store.epochs(device);
      return this.index(device, epochs, (epoch, from) => this.deps.store.batches(device, from, epoch));
    });
  }

  /** Index epoch-1 batches from another source (already in order from the first unindexed one): the benchmark. */
  indexFrom(device: string, source: (from: number) => BatchSource): Promise<CatchUpOutcome> {
    return this.serial(device, () => this.index(device, [1], (_epoch, from) => source(from)));
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

  /** Index `epochs` (ascending) from where the progress stands, each epoch's batches from `source`. */
  private index(device: string, epochs: readonly number[], source: (epoch: number, from: number) => BatchSource): Promise<CatchUpOutcome> {
    const commitEvery = this.deps.commitEvery ?? 500;
    const maxPending = this.deps.maxPendingPoints ?? 500_000;
    return this.deps.mrv.indexSession(device, async (session) => {
      const progress = (await session.progress()) ?? { batch: 0, state: emptyIndexerState() };
      const latest = new Map<string, PlanRecord>();
      for (const p of await this.deps.mrv.plans(device)) latest.set(p.record.sensor, p.record);
      const builder = new IndexBuilder(progress.state, session, latest);
      let epoch = progress.epoch ?? 1;
      let last = progress.batch;
      let since = 0;
      const started = Date.now();
      for (const e of epochs) {
        if (e < epoch) continue;
        if (e > epoch) {
          epoch = e;
          last = 0;
        }
        let flushed = last;
        for await (const { row, lines } of source(e, last + 1)) {
          const b = row.header.batch;
          if (b <= last) continue; // another process indexed it while this one waited for the lock
          if (b !== last + 1) throw new Error(`MRV index of ${device}: batch ${b} of epoch ${e} follows ${last}; the store has a hole`);
          builder.addBatch(row, lines);
          last = b;
          if (++since % commitEvery === 0 || builder.pendingPoints >= maxPending) {
            await builder.flush(e, last);
            flushed = last;
            this.log.info({ device, epoch: e, indexedThrough: last, batches: since, ms: Date.now() - started }, 'MRV index catching up');
          }
        }
        // each epoch's end is committed: the progress names one epoch
        if (last > flushed) await builder.flush(e, last);
      }
      return { batches: since, indexedThrough: last, epoch };
    });
  }
}
