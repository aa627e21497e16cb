// RFC 8785 JSON Canonicalization Scheme, for the proof page: the same walk as the sink's and the
// device's (protocol/canonical.ts), on the same ECMAScript number and string serialisation, so
// that the browser hashes exactly the bytes the device signed. docs/spec/records.md.

export class CanonicalizationError extends Error {}

/** The canonical JSON text of `value`. */
export function canonicalize(value) {
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
      if (Array.isArray(value)) return '[' + value.map((item) => (item === undefined ? 'null' : canonicalize(item))).join(',') + ']';
      return canonicalObject(value);
    default:
      throw new CanonicalizationError(`cannot encode a value of type ${typeof value}`);
  }
}

function canonicalObject(obj) {
  // Keys sorted by UTF-16 code units: JavaScript's default string order.
  const members = [];
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key];
    if (v === undefined) continue; // as JSON.stringify: an absent member
    members.push(JSON.stringify(key) + ':' + canonicalize(v));
  }
  return '{' + members.join(',') + '}';
}

/** The canonical bytes (UTF-8) of `value`. */
export function canonicalBytes(value) {
  return new TextEncoder().encode(canonicalize(value));
}
