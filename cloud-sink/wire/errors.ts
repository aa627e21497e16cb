/** A request body the sink cannot read: answered 400 with this one-line message. */
export class WireError extends Error {
  override name = 'WireError';
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

export interface DecodedBatch {
  header: unknown;
  records: unknown;
  pruned: boolean;
}
