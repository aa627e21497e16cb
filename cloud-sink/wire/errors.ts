import type { DecodedReading } from '../../protocol/columnar/decoder.ts';

/** A request body the sink cannot read: answered 400 with this one-line message. */
export class WireError extends Error {
  override name = 'WireError';
  readonly status: number;

  constructor(message: string, status = 400) {
    super(message);
    this.status = status;
  }
}

/**
 * A request body, read but not yet verified. A JSON body carries `records` (objects, checked with
 * protocol checkBatch); a columnar body carries `lines`, the records' canonical bytes rebuilt by
 * the decoder, with the readings' time span and each reading's fields (for the readings index).
 */
export type DecodedBatch =
  | { header: unknown; pruned: boolean; records: unknown; lines?: undefined; cover?: unknown }
  | { header: unknown; pruned: boolean; lines: string[]; minTs: number | null; maxTs: number | null; readings: DecodedReading[]; records?: undefined; cover?: undefined };
