// The drivers' remembered last values: the journal's state carries the last durable value of each
// stream a driver asks for, and every commit writes it in the same synced batch as the records.
// After a restart or a power cut it is exactly the value of the last record that was kept, so a
// meter's energy counter resumes from it and the first interval after a restart covers the
// downtime instead of being lost.
import type { ReadingInput } from '../../protocol/records.ts';
import type { LastValue } from './layout.ts';
import type { JournalStateCell } from './state.ts';

export class LastValues {
  /** metrics by sensor whose last value the state carries */
  private readonly remembered = new Map<string, Set<string>>();

  private readonly cell: JournalStateCell;

  constructor(cell: JournalStateCell) {
    this.cell = cell;
  }

  /** From now on carry the last durable value of `sensor`'s `metric`. Returns the value held from before, if any. */
  remember(sensor: string, metric: string): LastValue | undefined {
    let metrics = this.remembered.get(sensor);
    if (!metrics) this.remembered.set(sensor, (metrics = new Set()));
    metrics.add(metric);
    const held = this.cell.current.lastValues?.[key(sensor, metric)];
    return held && { ...held };
  }

  /** A reading is being committed: carry its value if its stream is remembered. */
  note(r: ReadingInput): void {
    if (this.remembered.size === 0 || typeof r.value !== 'number' || !this.remembered.get(r.sensor)?.has(r.metric)) return;
    // the current state is a copy that a failed commit's rollback replaces, lastValues included
    (this.cell.current.lastValues ??= {})[key(r.sensor, r.metric)] = { value: r.value, ts: r.ts };
  }
}

const key = (sensor: string, metric: string) => `${sensor}/${metric}`;
