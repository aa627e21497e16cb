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

test('a device key given must be the header\'s, checked right after the signature and before the record', () => {
  const proof = makeProof();
  const held = verifyRecordProof(proof, { deviceKey: proof.header.key.toUpperCase() });
  assert.deepEqual(held.steps.map((s) => `${s.step}:${s.ok}`), ['batch signature:true', 'given key:true', 'record in batch:true', 'batch in anchor:true']);
  const other = generateKey().public;
  const bad = structuredClone(proof);
  (bad.record as { value: number }).value += 1;
  const refused = verifyRecordProof(bad, { deviceKey: other });
  assert.deepEqual(refused.steps.at(-1), { step: 'given key', ok: false, detail: `the batch was signed by ${proof.header.key}, not by the device key given (${other})` });
  assert.equal(refused.steps.length, 2, 'nothing about the record is reported for a key nobody vouched for');
});

test('the anchor\'s every field is checked for its form, its sender optional', () => {
  const withSender = makeProof();
  withSender.anchor!.sender = '0x' + '12'.repeat(32);
  assert.equal(verifyRecordProof(withSender).ok, true);
  const cases: [Record<string, unknown>, string][] = [
    [{ sender: 'operator' }, 'anchor.sender must be an account address'],
    [{ module: '0x12::other' }, 'anchor.module must be <account address>::anchor'],
    [{ tx: '0xAB' }, 'anchor.tx must be 0x and 64 lowercase hex digits'],
    [{ version: -1 }, 'anchor.version must be a ledger version'],
    [{ chain: '' }, 'anchor.chain must be a chain name'],
    [{ index: 5 }, 'anchor.index must be an integer below anchor.size'],
    [{ size: 0 }, 'anchor.size must be a positive integer'],
    [{ pruned: true }, 'unknown field anchor.pruned'],
  ];
  for (const [patch, detail] of cases) {
    const p = makeProof();
    Object.assign(p.anchor!, patch);
    assert.deepEqual(verifyRecordProof(p).steps.at(-1), { step: 'anchor', ok: false, detail }, JSON.stringify(patch));
  }
});

test('a record holding a value no JSON encodes (Infinity, NaN) is refused at the record step, not thrown', () => {
  for (const odd of [Infinity, Number.NaN]) {
    const p = makeProof();
    (p.record as unknown as { meta: unknown }).meta = { x: [odd] };
    const check = verifyRecordProof(p);
    assert.equal(check.ok, false);
    assert.deepEqual(check.steps.at(-1), { step: 'record', ok: false, detail: `the record has no canonical encoding: cannot encode non-finite number ${odd}` });
  }
});
