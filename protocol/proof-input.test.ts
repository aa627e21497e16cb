import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonTextProblem, MAX_PROOF_BYTES, parseProof } from './proof-input.ts';

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
  assert.equal(jsonTextProblem('{"a":"[[[[{{{{\\"[[[["}', 1), null);
  assert.equal(jsonTextProblem('[{"k":"\\\\"},[[]]]', 3), null);
  assert.match(jsonTextProblem('[{"k":"\\\\"},[[[]]]]', 3)!, /^nests deeper than 3 levels/);
});

test('a file with one meaning only: each member once per object, each number as JCS writes it, UTF-8', () => {
  const fine = '{"a":{"a":1,"b":[{"a":-0.5},{"a":1e+21}]},"b":"\\"a\\":","c":[1,1,"x","x"],"d":{"\\u0061x":0}}';
  assert.equal(jsonTextProblem(fine), null);
  assert.match(jsonTextProblem('{"a":1,"b":{},"a":2}')!, /^writes the member "a" twice in one object/);
  assert.match(jsonTextProblem('{"a":1,"\\u0061":2}')!, /^writes the member "a" twice/, 'names compared as parsed, not as written');
  for (const [written, parsed] of [['1.0', '1'], ['-0', '0'], ['1E3', '1000'], ['0.10', '0.1'], ['9007199254740993', '9007199254740992'], ['1e999', 'Infinity'], ['1e21', '1e+21']]) {
    assert.equal(jsonTextProblem(`{"v":${written}}`), `writes the number ${written}, which is not how the number it parses to is written (${parsed}): JSON parsers may read another number than the one signed`);
  }
  assert.deepEqual(parseProof(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), { ok: false, problem: 'is not UTF-8 text, which every proof is' });
  assert.deepEqual(parseProof(Buffer.from('\ufeff{}')), { ok: false, problem: 'is not JSON' });
});
