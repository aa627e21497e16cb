// Why a read failed, as a one-line message for people and a flag for the record that the failed read
// leaves behind (value null, quality.flags = [flag]).

export class ReadError extends Error {
  override name = 'ReadError';
  /** the quality flag a failed read carries: timeout, bad_checksum, modbus_exception, port_unavailable... */
  readonly flag: string;
  /** false when trying again at once cannot help (a Modbus "illegal address" answer) */
  readonly retryable: boolean;

  constructor(
    message: string,
    flag: string,
    retryable = true,
  ) {
    super(message);
    this.flag = flag;
    this.retryable = retryable;
  }
}

export class TimeoutError extends ReadError {
  override name = 'TimeoutError';
  constructor(message: string) {
    super(message, 'timeout');
  }
}

/** Any thrown value as a ReadError, keeping the flag of those that already are one. */
export function asReadError(err: unknown): ReadError {
  if (err instanceof ReadError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ReadError(message.split('\n')[0] ?? message, 'read_failed');
}
