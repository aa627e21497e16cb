import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalize } from './canonical.ts';
import { chainProblem, checkBatch, headerHash, signHeader, verifyHeaderSignature, type BatchHeader } from './batch.ts';
import { ZERO_HASH } from './hash.ts';
import { leafHash, rootFromLeafHashes } from './merkle.ts';
import { gapRecord, readingRecord, type JournalRecord } from './records.ts';
import { generateKey, keyFromSeed } from './signature.ts';

const key = keyFromSeed('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');

function records(first: number, n: number): JournalRecord[] {
  return Array.from({ length: n }, (_, i) =>
    i === 2
      ? gapRecord('site-a-gw1', first + i, 1200, 1763884800123, 1763888400123, 'disk_full')
      : readingRecord('site-a-gw1', first + i, { sensor: 'co2-1', metric: 'co2_ppm', ts: 1763884800123 + i, value: 512 + i, unit: 'ppm' }, { score: 0.97, flags: ['calibration_stale'] }),
  );
}

function seal(batch: number, recs: JournalRecord[], prev: string): BatchHeader {
  const root = rootFromLeafHashes(recs.map((r) => leafHash(canonicalize(r)))).toString('hex');
  return signHeader({ device: 'site-a-gw1', batch, first: recs[0]!.seq, last: recs.at(-1)!.seq, count: recs.length, root, prev, created: 1763884801000 }, key);
}

test('a sealed batch verifies; the signature covers the canonical header without sig', () => {
  const recs = records(1, 5);
  const h = seal(1, recs, ZERO_HASH);
  assert.equal(h.key, key.public);
  assert.equal(verifyHeaderSignature(h), true);
  assert.deepEqual(checkBatch(h, recs).ok, true);
  assert.equal(verifyHeaderSignature({ ...h, created: h.created + 1 }), false);
});

test('checkBatch refuses a changed value, reordered or missing records, another device, a wrong root', () => {
  const recs = records(1, 5);
  const h = seal(1, recs, ZERO_HASH);
  const changed = recs.map((r, i) => (i === 1 ? { ...r, value: 513.5 } : r)) as JournalRecord[];
  assert.match((checkBatch(h, changed) as { reason: string }).reason, /root/);
  const reordered = [recs[1]!, recs[0]!, ...recs.slice(2)];
  assert.match((checkBatch(h, reordered) as { reason: string }).reason, /seq/);
  assert.match((checkBatch(h, recs.slice(1)) as { reason: string }).reason, /expected 5 records/);
  const foreign = recs.map((r) => ({ ...r, device: 'other' })) as JournalRecord[];
  assert.match((checkBatch(h, foreign) as { reason: string }).reason, /device/);
  assert.match((checkBatch({ ...h, root: 'ab'.repeat(32) }, recs) as { reason: string }).reason, /signature/);
  assert.match((checkBatch({ ...h, count: 4 }, recs) as { reason: string }).reason, /count/);
  assert.match((checkBatch({ ...h, extra: 1 }, recs) as { reason: string }).reason, /unknown field/);
  assert.match((checkBatch(h, 'nope') as { reason: string }).reason, /array/);
});

test('the prev chain detects a deleted, reordered or foreign batch', () => {
  const b1 = seal(1, records(1, 3), ZERO_HASH);
  const b2 = seal(2, records(4, 3), headerHash(b1));
  const b3 = seal(3, records(7, 3), headerHash(b2));
  assert.equal(chainProblem([b1, b2, b3]), null);
  assert.match(chainProblem([b1, b3])!, /follows batch 1/);
  assert.match(chainProblem([b2, b1])!, /follows batch 0/);
  const forged = signHeader({ ...b2, prev: ZERO_HASH }, key);
  assert.match(chainProblem([b1, forged, b3])!, /does not chain/);
  const otherKey = generateKey();
  const b2other = signHeader({ device: b2.device, batch: 2, first: 4, last: 6, count: 3, root: b2.root, prev: b2.prev, created: b2.created }, otherKey);
  assert.equal(verifyHeaderSignature(b2other), true);
  assert.match(chainProblem([b1, b2other, b3])!, /does not chain/);
  assert.equal(chainProblem([b3], b2), null);
});

test('headerHash covers the signature', () => {
  const b1 = seal(1, records(1, 3), ZERO_HASH);
  assert.notEqual(headerHash(b1), headerHash({ ...b1, sig: b1.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) }));
});
