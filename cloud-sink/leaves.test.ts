import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { merkleRoot } from '../protocol/merkle.ts';
import { rootOfJoined } from './leaves.ts';

describe('rootOfJoined', () => {
  it('is the protocol\'s Merkle root of the lines, multi-byte and long lines included', () => {
    const lines = ['{"a":1}', '{"s":"ünïcode ✓ 𝄞"}', '{"x":"' + 'y'.repeat(5000) + '"}', '{}', '{"esc":"\\n\\u0000"}'];
    assert.equal(rootOfJoined(lines.join('\n'), lines.length).toString('hex'), merkleRoot(lines).toString('hex'));
  });

  it('is the protocol\'s root for every tree size, odd levels and the empty tree included', () => {
    for (let n = 0; n <= 70; n++) {
      const lines = Array.from({ length: n }, (_, i) => `{"i":${i},"pad":"${'z'.repeat(i % 13)}"}`);
      assert.equal(rootOfJoined(lines.join('\n'), n).toString('hex'), merkleRoot(lines).toString('hex'), `${n} lines`);
    }
  });
});
