// A device's keys as the anchor module's device_keys view returns them, read strictly, and the rule
// that says whether a batch's key counts: the browser's copy of cloud-sink/anchor/device-keys.ts,
// with its reasons word for word (cloud-sink/pages/operator-check.test.ts holds the two together).

/** u64::MAX: the registry's "no end" */
const NO_END = 2n ** 64n - 1n;

function u64(v, what) {
  if (typeof v !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(v) || BigInt(v) > NO_END) throw new Error(`${what} is not a u64 as a decimal string`);
  return BigInt(v);
}

/** The JSON value of a device_keys view, checked field by field. Throws on anything else. */
export function parseDeviceKeys(value) {
  if (!Array.isArray(value) || value.length > 64) throw new Error('device_keys did not return a list of at most 64 keys');
  return value.map((v, i) => {
    const o = typeof v === 'object' && v !== null ? v : {};
    if (typeof o.key !== 'string' || !/^0x[0-9a-f]{64}$/.test(o.key)) throw new Error(`device_keys[${i}].key is not a 32-byte key`);
    if (typeof o.endorsed !== 'boolean') throw new Error(`device_keys[${i}].endorsed is not a bool`);
    const until = u64(o.valid_until_ms, `device_keys[${i}].valid_until_ms`);
    const revokedFrom = u64(o.revoked_from_ms, `device_keys[${i}].revoked_from_ms`);
    const revokedAt = u64(o.revoked_at_us, `device_keys[${i}].revoked_at_us`);
    return {
      key: o.key.slice(2), validFromMs: u64(o.valid_from_ms, `device_keys[${i}].valid_from_ms`),
      validUntilMs: until === NO_END ? null : until, revokedFromMs: revokedFrom === NO_END ? null : revokedFrom,
      registeredAtUs: u64(o.registered_at_us, `device_keys[${i}].registered_at_us`), revokedAtUs: revokedFrom === NO_END ? null : revokedAt,
      endorsed: o.endorsed,
    };
  });
}

/** A time in milliseconds since the epoch (a bigint), as ISO 8601 where it is a date. */
export function whenMs(ms) {
  return ms < 8_640_000_000_000_000n ? new Date(Number(ms)).toISOString() : `${ms} ms`;
}

const whenUs = (us) => whenMs(us / 1000n);

/** The module's key_valid_at, on a device_keys answer. */
export function keyValidAt(keys, key, timeMs) {
  const k = keys.find((e) => e.key === key);
  return k !== undefined && k.validFromMs <= timeMs && (k.validUntilMs === null || timeMs < k.validUntilMs) && (k.revokedFromMs === null || timeMs < k.revokedFromMs);
}

/**
 * Whether the batch's key counts (q: {operator, device, key, createdMs, anchoredAtUs}): registered
 * by the operator for the device, valid when the batch was created, and, if ever revoked, anchored
 * before the revocation was recorded. {ok, detail}.
 */
export function judgeKey(keys, q) {
  const fail = (detail) => ({ ok: false, detail });
  if (keys.length === 0) return fail(`${q.operator} registered no key for device ${q.device}`);
  const k = keys.find((e) => e.key === q.key);
  if (!k) return fail(`key ${q.key} is not a key ${q.operator} registered for device ${q.device}`);
  const t = BigInt(q.createdMs);
  const name = `key ${q.key} of device ${q.device}`;
  if (t < k.validFromMs) return fail(`${name} counts from ${whenMs(k.validFromMs)}; the batch was created before, at ${whenMs(t)}`);
  if (k.validUntilMs !== null && t >= k.validUntilMs) return fail(`${name} was rotated out from ${whenMs(k.validUntilMs)}; the batch was created after, at ${whenMs(t)}`);
  if (k.revokedFromMs !== null && t >= k.revokedFromMs) return fail(`${name} is revoked from ${whenMs(k.revokedFromMs)}; the batch was created after, at ${whenMs(t)}`);
  if (k.revokedAtUs !== null && q.anchoredAtUs >= k.revokedAtUs) {
    return fail(`${name} was revoked on chain at ${whenUs(k.revokedAtUs)}, before the batch was anchored (${whenUs(q.anchoredAtUs)}): a batch of a revoked key counts only if it was anchored before the revocation`);
  }
  const span = k.validUntilMs === null ? `from ${whenMs(k.validFromMs)}` : `from ${whenMs(k.validFromMs)} until ${whenMs(k.validUntilMs)}`;
  return { ok: true, detail: `${name}, registered by ${q.operator} (${span}), counts for a batch created at ${whenMs(t)}` };
}
