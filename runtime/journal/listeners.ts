// Who hears of committed records (alerts, MQTT telemetry, the dashboard) and of sealed batches
// (the uplink). A listener that throws is logged and does not stop the others or the journal.
import type { Logger } from 'pino';
import type { BatchHeader } from '../../protocol/batch.ts';
import type { JournalRecord } from '../../protocol/records.ts';

type CommittedListener = (records: readonly JournalRecord[]) => void;
type SealedListener = (header: BatchHeader) => void;

export class JournalListeners {
  private readonly committed: CommittedListener[] = [];
  private readonly sealed: SealedListener[] = [];

  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  onCommitted(listener: CommittedListener): () => void {
    return subscribe(this.committed, listener);
  }

  onSealed(listener: SealedListener): () => void {
    return subscribe(this.sealed, listener);
  }

  /** Whether anyone listens for committed records (so that the records need building). */
  get wantsCommitted(): boolean {
    return this.committed.length > 0;
  }

  committedRecords(records: readonly JournalRecord[]): void {
    for (const l of this.committed) this.safely(() => l(records));
  }

  sealedBatch(header: BatchHeader): void {
    for (const l of this.sealed) this.safely(() => l(header));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'journal listener failed');
    }
  }
}

function subscribe<T>(list: T[], item: T): () => void {
  list.push(item);
  return () => {
    const i = list.indexOf(item);
    if (i >= 0) list.splice(i, 1);
  };
}
