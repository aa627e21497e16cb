import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalize } from './canonical.ts';
import { headerHash, signHeader } from './batch.ts';
import { ZERO_HASH } from './hash.ts';
import { inclusionPath, leafHash, rootFromLeafHashes } from './merkle.ts';
import { verifyRecordProof, type RecordProof } from './proof.ts';
import { readingRecord } from './records.ts';
import { generateKey } from './signature.ts';

function makeProof(): RecordProof {
  const key = generateKey();
  const recs = Array.from({ length: 6 }, (_, i) =>
    readingRecord('site-a-gw1', 11 + i, { sensor: 'co2-1', metric: 'co2_ppm', ts: 1763884800000 + i * 1000, value: 500 + i, unit: 'ppm' }, { score: 1, flags: [] }),
  );
  const leaves = recs.map((r) => leafHash(canonicalize(r)));
  const header = signHeader({ device: 'site-a-gw1', batch: 2, first: 11, last: 16, count: 6, root: rootFromLeafHashes(leaves).toString('hex'), prev: ZERO_HASH, created: 1763884801000 }, key);
  // The anchor tree: leaves are header hashes; ours is leaf 2 of 5.
  const headerLeaves = [0, 1, 2, 3, 4].map((i) => (i === 2 ? leafHash(Buffer.from(headerHash(header), 'hex')) : leafHash(`other header ${i}`)));
  return {
    record: recs[3]!,
    index: 3,
    path: inclusionPath(leaves, 3).map((b) => b.toString('hex')),
    header,
    anchor: {
      root: rootFromLeafHashes(headerLeaves).toString('hex'),
      index: 2,
      size: 5,
      path: inclusionPath(headerLeaves, 2).map((b) => b.toString('hex')),
      chain: 'aptos:testnet',
      tx: '0x' + 'ab'.repeat(32),
      version: 123456,
      module: '0x' + '12'.repeat(32) + '::anchor',
    },
  };
}

test('a proof verifies through record, batch signature and anchor', () => {
  const check = verifyRecordProof(makeProof());
  assert.equal(check.ok, true, JSON.stringify(check.steps));
  assert.equal(check.anchored, true);
  assert.deepEqual(check.steps.map((s) => s.step), ['batch signature', 'record in batch', 'batch in anchor']);
});

test('a proof without an anchor verifies as not yet anchored', () => {
  const { anchor: _, ...proof } = makeProof();
  const check = verifyRecordProof(proof);
  assert.equal(check.ok, true);
  assert.equal(check.anchored, false);
});

test('changing any single character of the proof JSON makes it fail', () => {
  const text = JSON.stringify(makeProof());
  // Every position inside a hex string, a number or a record field: flip it to another valid character.
  let tried = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    let replacement: string | null = null;
    if (/[0-9a-f]/.test(c)) replacement = c === '0' ? '1' : '0';
    else if (/[g-z]/.test(c)) replacement = c === 'x' ? 'y' : 'x';
    if (replacement === null) continue;
    const mutated = text.slice(0, i) + replacement + text.slice(i + 1);
    let parsed: unknown;
    try {
      parsed = JSON.parse(mutated);
    } catch {
      continue; // not JSON any more: refused before any check
    }
    const context = text.slice(Math.max(0, i - 20), i + 20);
    // Fields outside the cryptographic chain (the chain name, tx, version, module) are checked online.
    if (/"(chain|tx|module)":"[^"]*$/.test(text.slice(0, i + 1)) || /"version":\d*$/.test(text.slice(0, i + 1))) continue;
    assert.equal(verifyRecordProof(parsed).ok, false, `change at ${i} (${context}) still verifies`);
    tried++;
  }
  assert.ok(tried > 500, `only ${tried} mutations tried`);
});
