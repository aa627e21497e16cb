// RFC 8785 JSON Canonicalization Scheme (JCS).
//
// JCS is exactly what ECMAScript already does for primitives: numbers are serialised with
// Number.prototype.toString (ES2015 7.1.12.1, which RFC 8785 section 3.2.2.3 adopts), strings with
// JSON.stringify's escaping (section 3.2.2.2). What JCS adds is the member order: keys sorted by
// their UTF-16 code units, which is JavaScript's default string comparison. So the encoder is a
// small recursive walk; it is on the hot path of every reading, hence the already-sorted check
// that skips the sort for records built in canonical key order.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export class CanonicalizationError extends Error {}

export function canonicalize(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalizationError(`cannot encode non-finite number ${value}`);
      return Object.is(value, -0) ? '0' : String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return canonicalArray(value);
      return canonicalObject(value as Record<string, unknown>);
    default:
      throw new CanonicalizationError(`cannot encode a value of type ${typeof value}`);
  }
}

function canonicalArray(items: unknown[]): string {
  let out = '[';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ',';
    const item = items[i];
    out += item === undefined ? 'null' : canonicalize(item);
  }
  return out + ']';
}

function canonicalObject(obj: Record<string, unknown>): string {
  const keys = Object.keys(obj);
  if (!isSorted(keys)) keys.sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = obj[key];
    if (v === undefined) continue; // as JSON.stringify: an absent member
    if (!first) out += ',';
    first = false;
    out += JSON.stringify(key) + ':' + canonicalize(v);
  }
  return out + '}';
}

function isSorted(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}
