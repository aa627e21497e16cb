// The parts that hold one chain of the journal in memory, wired to each other (journal.ts is
// their one face). Built when the journal opens, and again from the database when a recovery
// epoch replaces the chain: nothing of the old chain's parts is kept.
import type { Level } from 'level';
import type { Logger } from 'pino';
import { ReadingEncoder } from '../../protocol/reading-encoder.ts';
import { Acknowledgement } from './acknowledgement.ts';
import { ChunkStore } from './chunk-store.ts';
import { GroupCommit } from './commit.ts';
import { HeldBatches } from './held-batches.ts';
import { Holds, type HoldLostListener } from './holds.ts';
import type { JournalMetrics } from './journal-metrics.ts';
import { batchPolicy, type JournalOptions } from './journal-options.ts';
import { LastValues } from './last-values.ts';
import type { JournalState } from './layout.ts';
import type { JournalListeners } from './listeners.ts';
import { PruneCovers } from './prune-covers.ts';
import { JournalReader } from './reader.ts';
import { Retention } from './retention.ts';
import { Sealer } from './sealer.ts';
import { JournalStateCell } from './state.ts';

export interface JournalParts {
  cell: JournalStateCell;
  chunks: ChunkStore;
  held: HeldBatches;
  holds: Holds;
  sealer: Sealer;
  retention: Retention;
  ack: Acknowledgement;
  reader: JournalReader;
  covers: PruneCovers;
  lastValues: LastValues;
  commit: GroupCommit;
}

/** What outlives a chain: the database, the options, and the journal's listeners and figures. */
export interface JournalPartsDeps {
  db: Level<string, string>;
  opts: JournalOptions;
  log: Logger;
  metrics: JournalMetrics;
  maxBytes: number;
  listeners: JournalListeners;
  /** the publishers' listeners for lost records, kept across chains */
  holdListeners: Map<string, HoldLostListener>;
  /** the tail is old enough to seal */
  sealByAge: () => Promise<void>;
  /** a write is durable: publish the journal's gauges */
  publishGauges: () => void;
}

export function wireJournalParts(state: JournalState, deps: JournalPartsDeps): JournalParts {
  const { db, opts, log, metrics } = deps;
  const cell = new JournalStateCell(state);
  const chunks = new ChunkStore(db);
  const held = new HeldBatches();
  const holds = new Holds({ cell, log, lost: (hold, n) => metrics.holdLost.inc({ hold }, n), listeners: deps.holdListeners });
  // What most parts share: the state, what is held, and the figures.
  const shared = { cell, held, chunks, holds, metrics };
  const onDurable = () => {
    deps.publishGauges();
    holds.announce();
  };
  const sealer = new Sealer({
    ...shared, device: opts.device, key: opts.key, now: opts.now ?? Date.now, clock: opts.clockState, sealByAge: deps.sealByAge,
    policy: batchPolicy(opts),
  });
  const retention = new Retention({ ...shared, maxBytes: deps.maxBytes, policy: opts.policy ?? 'drop-oldest', log });
  const ack = new Acknowledgement({ ...shared, db, onDurable });
  const reader = new JournalReader({ ...shared, ack });
  const covers = new PruneCovers({ cell, held, reader });
  const lastValues = new LastValues(cell);
  const commit = new GroupCommit({
    ...shared, db, device: opts.device, encoder: new ReadingEncoder(opts.device), sealer, retention,
    lastValues, listeners: deps.listeners, log, onDurable, onCommit: opts.onCommit,
  });
  return { cell, chunks, held, holds, sealer, retention, ack, reader, covers, lastValues, commit };
}
