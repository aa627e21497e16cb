// Brings the LevelDB readings index (level-readings.ts) up to date when the store opens: a store
// whose index is in the first layout (a key per reading) has those keys deleted, and the readings
// of every batch the store holds but the index does not (the index was off, or in the first
// layout) are indexed from the stored lines. Every step can be cut short by a crash and run again:
// the format marker is written once the old keys are gone, the "complete" marker once every batch
// is indexed, and indexing a batch again puts the same keys with the same values.
import type { Level } from 'level';
import type { Logger } from 'pino';
import { K } from '../store/level-keys.ts';
import type { StoredBatchRow } from '../store/types.ts';
import { READINGS_KEYS, readingPuts, type ReadingPut } from './level-readings.ts';
import { readingRowsOfLines } from './types.ts';

/** the index's layout marker: chunks by series, hour, epoch and batch */
export const LAYOUT_KEY = 'm!readings-layout';
export const CHUNKS = 'chunks-1';

/** old keys deleted per write */
const DELETE_BATCH = 10_000;
/** readings indexed per write */
const INDEX_BATCH = 50_000;
const PROGRESS_MS = 5_000;

/** The batches a store holds, as level-store.ts lists them. */
export interface HeldBatches {
  devices(): Promise<string[]>;
  epochs(device: string): Promise<number[]>;
  batches(device: string, from: number, epoch: number): AsyncIterable<{ row: StoredBatchRow; lines: string[] }>;
}

export class LevelReadingsLayout {
  private readonly level: () => Level<string, string>;
  private readonly held: HeldBatches;
  private readonly log: Logger | undefined;

  constructor(deps: { level: () => Level<string, string>; held: HeldBatches; log?: Logger }) {
    this.level = deps.level;
    this.held = deps.held;
    this.log = deps.log;
  }

  /** The store opens with the index on: convert the first layout, then index what is missing. */
  async open(): Promise<void> {
    if ((await this.level().get(LAYOUT_KEY)) !== CHUNKS) await this.dropPerReadingKeys();
    if ((await this.level().get(K.readingsComplete)) === undefined) await this.indexHeldReadings();
  }

  /** The store opens with the index off: what it accepts now is not indexed. */
  async off(): Promise<void> {
    await this.level().del(K.readingsComplete, { sync: true });
  }

  /**
   * The first layout's keys deleted, a bounded write at a time; the readings are indexed again
   * from the stored batches after (the complete marker goes first, so a crash cannot skip that).
   */
  private async dropPerReadingKeys(): Promise<void> {
    const db = this.level();
    await db.del(K.readingsComplete, { sync: true });
    let deleted = 0;
    let after: string | null = null;
    let shown = performance.now();
    for (;;) {
      const range: { gte?: string; gt?: string; lt: string; limit: number } = after === null ? { ...READINGS_KEYS.perReading, limit: DELETE_BATCH } : { gt: after, lt: READINGS_KEYS.perReading.lt, limit: DELETE_BATCH };
      const keys = await db.keys(range).all();
      if (keys.length === 0) break;
      if (deleted === 0) this.log?.info('readings index: converting from a key per reading to chunks by hour');
      await db.batch(keys.map((key) => ({ type: 'del' as const, key })));
      deleted += keys.length;
      after = keys[keys.length - 1]!;
      if (performance.now() - shown > PROGRESS_MS) {
        shown = performance.now();
        this.log?.info({ deleted }, 'readings index: deleting the per-reading keys');
      }
    }
    await db.put(LAYOUT_KEY, CHUNKS, { sync: true });
    if (deleted > 0) this.log?.info({ deleted }, 'readings index: per-reading keys deleted; indexing the stored batches in chunks');
  }

  /** The readings of every held batch, indexed from its stored lines. */
  private async indexHeldReadings(): Promise<void> {
    const db = this.level();
    let ops: ReadingPut[] = [];
    let pending = 0;
    let batches = 0;
    let readings = 0;
    let shown = performance.now();
    const write = async () => {
      await db.batch<string, string | Buffer>(ops, {});
      ops = [];
      pending = 0;
    };
    for (const device of await this.held.devices()) {
      for (const epoch of await this.held.epochs(device)) {
        for await (const { row, lines } of this.held.batches(device, 1, epoch)) {
          const rows = readingRowsOfLines(lines);
          for (const op of readingPuts(device, row.header.batch, rows, epoch)) ops.push(op);
          pending += rows.length;
          readings += rows.length;
          batches++;
          if (pending >= INDEX_BATCH) await write();
          if (performance.now() - shown > PROGRESS_MS) {
            shown = performance.now();
            this.log?.info({ device, batches, readings }, 'readings index: indexing stored batches');
          }
        }
      }
    }
    if (ops.length > 0) await write();
    await db.put(K.readingsComplete, '1', { sync: true });
    if (batches > 0) this.log?.info({ batches, readings }, 'readings index: every stored batch indexed');
  }
}
