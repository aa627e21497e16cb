// Reading a node's device_keys answer strictly, and the key rule on it, without a chain.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeKey, keyValidAt, parseDeviceKeys } from './device-keys.ts';

const K1 = 'aa'.repeat(32);
const K2 = 'bb'.repeat(32);
const NO_END = '18446744073709551615';
const entry = (over: Record<string, unknown> = {}) => ({
  key: `0x${K1}`, valid_from_ms: '1000', valid_until_ms: NO_END, revoked_from_ms: NO_END, registered_at_us: '5000000', revoked_at_us: '0', endorsed: false, ...over,
});
const q = (over: Partial<Parameters<typeof judgeKey>[1]> = {}) => ({ operator: '0xop', device: 'site-a', key: K1, createdMs: 2000, anchoredAtUs: 9_000_000n, ...over });

describe('device keys as a node answers them', () => {
  it('reads every field, "no end" as null', () => {
    assert.deepEqual(parseDeviceKeys([entry()]), [{ key: K1, validFromMs: 1000n, validUntilMs: null, revokedFromMs: null, registeredAtUs: 5_000_000n, revokedAtUs: null, endorsed: false }]);
    assert.deepEqual(parseDeviceKeys([entry({ revoked_from_ms: '1500', revoked_at_us: '7000000' })])[0]!.revokedAtUs, 7_000_000n);
  });

  it('refuses anything else', () => {
    for (const bad of [
      {}, [entry({ key: K1 })], [entry({ key: '0x12' })], [entry({ valid_from_ms: 1000 })], [entry({ valid_until_ms: '18446744073709551616' })],
      [entry({ endorsed: 'no' })], [entry({ registered_at_us: '-1' })], [entry({ valid_from_ms: '01' })], Array.from({ length: 65 }, () => entry()), [null],
    ]) assert.throws(() => parseDeviceKeys(bad), JSON.stringify(bad).slice(0, 80));
  });

  it('judges a key as key_valid_at does, and also by when the batch was anchored', () => {
    const keys = parseDeviceKeys([entry({ valid_until_ms: '3000' }), entry({ key: `0x${K2}`, valid_from_ms: '3000', revoked_from_ms: '4000', revoked_at_us: '8000000' })]);
    assert.equal(judgeKey(keys, q()).ok, true);
    assert.equal(keyValidAt(keys, K1, 2999n), true);
    assert.equal(keyValidAt(keys, K1, 3000n), false);
    assert.match(judgeKey([], q()).detail, /^0xop registered no key for device site-a$/);
    assert.match(judgeKey(keys, q({ key: 'cc'.repeat(32) })).detail, /is not a key 0xop registered for device site-a$/);
    assert.match(judgeKey(keys, q({ createdMs: 999 })).detail, /counts from 1970-01-01T00:00:01.000Z; the batch was created before/);
    assert.match(judgeKey(keys, q({ createdMs: 3000 })).detail, /was rotated out from 1970-01-01T00:00:03.000Z/);
    assert.match(judgeKey(keys, q({ key: K2, createdMs: 4000 })).detail, /is revoked from 1970-01-01T00:00:04.000Z; the batch was created after/);
    assert.equal(judgeKey(keys, q({ key: K2, createdMs: 3500, anchoredAtUs: 7_999_999n })).ok, true, 'anchored before the revocation was recorded');
    assert.match(judgeKey(keys, q({ key: K2, createdMs: 3500, anchoredAtUs: 8_000_000n })).detail, /was revoked on chain at 1970-01-01T00:00:08.000Z, before the batch was anchored/);
  });
});
