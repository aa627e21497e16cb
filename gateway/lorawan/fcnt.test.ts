import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeFCnt, MAX_FCNT_GAP, rebuildFCnt } from './fcnt.ts';

describe('32-bit frame counter from the 16 bits on air', () => {
  it('follows the low half and carries into the high half', () => {
    assert.equal(rebuildFCnt(-1, 7), 7);
    assert.equal(rebuildFCnt(5, 6), 6);
    assert.equal(rebuildFCnt(0xfffe, 0x0001), 0x10001);
    assert.equal(rebuildFCnt(0x1fff0, 0xfff5), 0x1fff5);
    assert.equal(rebuildFCnt(0x2_0005, 0x0003), 0x3_0003);
  });

  it('judges next, repeat and too-far counters', () => {
    assert.equal(judgeFCnt(-1, 40000), 'next', 'a first uplink may start anywhere');
    assert.equal(judgeFCnt(10, 11), 'next');
    assert.equal(judgeFCnt(10, 10), 'repeat');
    assert.equal(judgeFCnt(10, 9), 'old');
    assert.equal(judgeFCnt(10, 10 + MAX_FCNT_GAP), 'next');
    assert.equal(judgeFCnt(10, 11 + MAX_FCNT_GAP), 'too_far');
    // an old counter on air comes back one wrap ahead, and so too far
    assert.equal(judgeFCnt(100, rebuildFCnt(100, 50)), 'too_far');
  });
});
