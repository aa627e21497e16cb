// The chain rule both stores apply inside their atomic section: what to do with a batch given the
// device's head and, for a number already held (in the header's epoch), the hash stored under it.
import { epochOf, type BatchHeader } from '../../protocol/batch.ts';
import type { CommitOutcome, Head } from './types.ts';

export function chainDecision(head: Head, header: BatchHeader, hash: string, storedHashOfSameNumber: string | null): CommitOutcome | 'append' {
  if (epochOf(header) !== head.epoch) {
    // An earlier epoch is closed and a later one not accepted: only what is held already is answered.
    if (storedHashOfSameNumber === null) return { status: 'other_epoch', epoch: head.epoch };
    return storedHashOfSameNumber === hash ? { status: 'duplicate' } : { status: 'equivocation', storedHash: storedHashOfSameNumber };
  }
  if (header.batch <= head.batch) {
    if (storedHashOfSameNumber === null) {
      return { status: 'out_of_order', have: head.batch, reason: `batch ${header.batch} is below the sink's head ${head.batch} but not held` };
    }
    return storedHashOfSameNumber === hash ? { status: 'duplicate' } : { status: 'equivocation', storedHash: storedHashOfSameNumber };
  }
  if (header.batch > head.batch + 1) {
    return { status: 'out_of_order', have: head.batch, reason: `batch ${header.batch} arrived but the sink holds only through batch ${head.batch}; batch ${head.batch + 1} is missing` };
  }
  if (header.prev !== head.hash) {
    return { status: 'out_of_order', have: head.batch, reason: `batch ${header.batch} does not chain to batch ${head.batch} held by the sink (prev differs)` };
  }
  if (header.first !== head.last + 1) {
    return { status: 'out_of_order', have: head.batch, reason: `batch ${header.batch} starts at seq ${header.first}, expected ${head.last + 1}` };
  }
  return 'append';
}
