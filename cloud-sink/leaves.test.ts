import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leafHash } from '../protocol/merkle.ts';
import { leafHashesOfJoined } from './leaves.ts';

describe('leafHashesOfJoined', () => {
  it('gives the protocol\'s leaf hash of each line, multi-byte and long lines included', () => {
    const lines = ['{"a":1}', '{"s":"ünïcode ✓ 𝄞"}', '{"x":"' + 'y'.repeat(5000) + '"}', '{}', '{"esc":"\\n\\u0000"}'];
    const got = leafHashesOfJoined(lines.join('\n'), lines.length);
    assert.deepEqual(got.map((b) => b.toString('hex')), lines.map((l) => leafHash(l).toString('hex')));
  });
});
