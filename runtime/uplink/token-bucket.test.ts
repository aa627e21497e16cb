import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from './token-bucket.ts';

describe('TokenBucket', () => {
  it('lets one second of bytes through at once, then paces to the rate', () => {
    let now = 0;
    const b = new TokenBucket(1000, () => now);
    assert.equal(b.take(1000), 0);
    assert.equal(b.take(500), 500);
    now += 500; // the wait above has passed
    assert.equal(b.take(0), 0);
    assert.equal(b.take(2000), 2000);
    now += 10_000;
    assert.equal(b.take(1000), 0, 'an idle spell refills at most one second of budget');
    assert.equal(b.take(1), 1);
  });
});
