// A batch's readings as the sink decoded them on arrival, handed to the store with the batch so
// that the readings index need not parse the canonical lines again: the columnar decoder's fields,
// or the checked record objects of a JSON body.
import type { DecodedBatch } from '../wire/errors.ts';
import { indexableRows, rowsOfRecords, type ReadingRow } from './types.ts';

/** The readings of a decoded (and verified) batch that the index holds. */
export function readingsOnArrival(decoded: DecodedBatch): ReadingRow[] {
  if (decoded.pruned) return [];
  if (decoded.lines) return indexableRows(decoded.readings);
  return Array.isArray(decoded.records) ? rowsOfRecords(decoded.records as Record<string, unknown>[]) : [];
}
