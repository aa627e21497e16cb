// How a journal is opened (journal.ts Journal.open): whose it is, where it lives, and the bounds
// and timings that the device config's `journal:` and `batch:` sections set (config.ts).
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ClockState } from '../../protocol/batch.ts';
import type { DeviceKey } from '../../protocol/signature.ts';
import type { RetentionPolicy } from './retention.ts';
import type { BatchPolicy } from './sealer.ts';

export interface JournalOptions {
  /** the device's data dir; the journal lives in its `journal/` folder */
  dir: string;
  device: string;
  key: DeviceKey;
  /**
   * Inspect only (the CLI's stats, verify, export): nothing is written, close() seals nothing, and
   * a journal that does not exist is an error rather than made.
   */
  readOnly?: boolean;
  log?: Logger;
  metrics?: Registry;
  batch?: Partial<BatchPolicy>;
  /** bound on the logical size held (records and headers), bytes */
  maxBytes?: number;
  policy?: RetentionPolicy;
  /** how long the first reading after an idle spell waits for company before the commit starts */
  commitMaxWaitMs?: number;
  commitMaxRecords?: number;
  /** a clock for tests */
  now?: () => number;
  /** the device clock's sync state, stated in every header sealed (runtime/clock/) */
  clockState?: () => ClockState;
  /** told of every completed group commit: for benchmarks */
  onCommit?: (info: { records: number; ms: number }) => void;
}

/** How batches are cut: the options' `batch`, over the defaults. */
export function batchPolicy(opts: JournalOptions): BatchPolicy {
  return { maxRecords: 500, maxBytes: 1_000_000, maxAgeMs: 5000, ...opts.batch };
}
