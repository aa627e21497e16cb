// Path and query parameters the routes share, checked before use: a bad one is the client's 400.
import { isValidName } from '../../protocol/records.ts';
import { HttpError } from './replies.ts';

export const NAME_RULE = 'device names are 1-128 letters, digits, dot, dash, colon or underscore, starting with a letter or digit';

export function deviceParam(v: string): string {
  if (!isValidName(v)) throw new HttpError(400, `not a device name: ${NAME_RULE}`, 'bad_device_name');
  return v;
}

/** `?epoch=N`: the recovery epoch a batch number or seq counts in; 1 when absent. */
export function epochParam(url: URL): number {
  const v = url.searchParams.get('epoch');
  if (v === null || v === '') return 1;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new HttpError(400, 'epoch must be a positive integer', 'bad_query');
  return n;
}
