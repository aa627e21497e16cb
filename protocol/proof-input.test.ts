import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonDepth, MAX_PROOF_BYTES, parseProof } from './proof-input.ts';

test('a proof file is refused past 1 MiB, past 32 levels of nesting, or when it is not JSON', () => {
  assert.deepEqual(parseProof(Buffer.from('{"a":[1,{"b":2}]}')), { ok: true, proof: { a: [1, { b: 2 }] } });
  assert.deepEqual(parseProof(Buffer.alloc(MAX_PROOF_BYTES + 1, 0x20)), { ok: false, problem: `is larger than ${MAX_PROOF_BYTES} bytes, which no proof is` });
  assert.equal(parseProof(Buffer.from('['.repeat(33) + ']'.repeat(33))).ok, false);
  assert.equal(parseProof(Buffer.from('['.repeat(32) + ']'.repeat(32))).ok, true);
  // Half a megabyte of brackets is refused on the text, without a parser or a walk going that deep.
  assert.deepEqual(parseProof(Buffer.from('['.repeat(500_000))), { ok: false, problem: 'nests deeper than 32 levels, which no proof does' });
  assert.deepEqual(parseProof(Buffer.from('{"a":')), { ok: false, problem: 'is not JSON' });
});

test('brackets inside strings, escaped quotes included, do not count as nesting', () => {
  assert.equal(jsonDepth('{"a":"[[[[{{{{\\"[[[["}'), 1);
  assert.equal(jsonDepth('[{"k":"\\\\"},[[]]]'), 3);
});
