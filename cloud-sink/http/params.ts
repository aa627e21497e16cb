// Path and query parameters the routes share, checked before use: a bad one is the client's 400.
import { isValidName } from '../../protocol/records.ts';
import { HttpError } from './replies.ts';

export const NAME_RULE = 'device names are 1-128 letters, digits, dot, dash, colon or underscore, starting with a letter or digit';

export function deviceParam(v: string): string {
  if (!isValidName(v)) throw new HttpError(400, `not a device name: ${NAME_RULE}`, 'bad_device_name');
  return v;
}

/**
 * A positive integer written in decimal digits alone, without a leading zero, or null. Not
 * Number(): it reads "0x4d", "7.7e1", " 77" and "077" as 77, so that one record would answer to
 * many names, and a path that is not a seq to a seq.
 */
export function positiveInteger(v: string | null | undefined): number | null {
  if (v === null || v === undefined || !/^[1-9][0-9]{0,15}$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

/** `?epoch=N`: the recovery epoch a batch number or seq counts in; 1 when absent. */
export function epochParam(url: URL): number {
  const v = url.searchParams.get('epoch');
  if (v === null || v === '') return 1;
  const n = positiveInteger(v);
  if (n === null) throw new HttpError(400, 'epoch must be a positive integer', 'bad_query');
  return n;
}
