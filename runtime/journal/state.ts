// The journal's state record (layout.ts) in memory, twice: `current`, which a commit changes as it
// goes and which its write carries, and `durable`, as of the last write that completed. A commit's
// write may still fail and be rolled back, so what the journal reports (stats, gauges) is durable.
import type { JournalState } from './layout.ts';

export function copyState(s: JournalState): JournalState {
  const copy = { ...s, pendingGap: s.pendingGap ? { ...s.pendingGap } : null };
  if (s.lastValues) copy.lastValues = { ...s.lastValues }; // entries are replaced, never changed
  if (s.holds) copy.holds = { ...s.holds }; // likewise
  return copy;
}

export class JournalStateCell {
  current: JournalState;
  durable: JournalState;

  constructor(state: JournalState) {
    this.current = state;
    this.durable = copyState(state);
  }

  /** The write that carried `current` has completed. */
  markDurable(): void {
    this.durable = copyState(this.current);
  }
}
