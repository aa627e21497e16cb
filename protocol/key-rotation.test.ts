import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressBytes, endorsementHolds, endorseRotation, rotationMessage } from './key-rotation.ts';
import { generateKey } from './signature.ts';

describe('the key rotation message', () => {
  const [a, b] = [generateKey(), generateKey()];
  const r = { operator: '0xcafe', device: 'site-a-gw1', oldKey: a.public, newKey: b.public, validFromMs: 1_763_884_900_000 };

  it('is the domain, the 32-byte address, the BCS device name, both keys and the time as u64 little-endian', () => {
    const m = rotationMessage(r);
    assert.equal(m.length, 29 + 32 + 1 + 10 + 32 + 32 + 8);
    assert.equal(m.subarray(0, 29).toString('ascii'), 'FIELDPROOF::DeviceKeyRotation');
    assert.deepEqual(m.subarray(29, 61), addressBytes('0x000000cafe'));
    assert.equal(m[61], 10);
    assert.equal(m.subarray(m.length - 8).readBigUInt64LE(), 1_763_884_900_000n);
    assert.equal(rotationMessage({ ...r, device: 'x'.repeat(128) })[61], 0x80, 'a ULEB128 length of two bytes');
  });

  it('is endorsed by the old key only, for this operator, device, successor and time', () => {
    const e = endorseRotation(a, r);
    assert.equal(endorsementHolds(r, e), true);
    for (const other of [{ operator: '0xcaff' }, { device: 'site-b' }, { newKey: a.public }, { validFromMs: r.validFromMs + 1 }]) assert.equal(endorsementHolds({ ...r, ...other }, e), false);
    assert.equal(endorsementHolds({ ...r, oldKey: b.public }, endorseRotation(a, r)), false);
  });

  it('refuses what the module would refuse to read', () => {
    assert.throws(() => rotationMessage({ ...r, operator: 'cafe' }), /not an Aptos account address/);
    assert.throws(() => rotationMessage({ ...r, device: 'a b' }), /not a device name/);
    assert.throws(() => rotationMessage({ ...r, newKey: 'AA'.repeat(32) }), /64-digit lowercase hex/);
    assert.throws(() => rotationMessage({ ...r, validFromMs: -1 }), /non-negative/);
  });
});
