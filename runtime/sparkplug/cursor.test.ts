import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/support/tmp.ts';
import { SparkplugCursor } from './cursor.ts';

test('acknowledgements out of order: through advances only over contiguous seqs, ranges merge', () => {
  const c = new SparkplugCursor(tempDir('cursor'));
  c.mark(5, 5);
  c.mark(7, 9);
  assert.equal(c.through, 0);
  assert.ok(c.has(8) && !c.has(6) && !c.has(1));
  c.mark(1, 4);
  assert.equal(c.through, 5);
  c.mark(6, 6);
  assert.equal(c.through, 9);
  c.mark(3, 3);
  assert.equal(c.through, 9);
});

test('the cursor and bdSeq survive a restart; bdSeq wraps at 256; a damaged file is an error', async () => {
  const dir = tempDir('cursor');
  const c = new SparkplugCursor(dir);
  c.load();
  assert.equal(c.nextBdSeq(), 0);
  c.mark(1, 10);
  c.mark(20, 30);
  await c.saveInBackground();
  const again = new SparkplugCursor(dir);
  again.load();
  assert.equal(again.through, 10);
  assert.ok(again.has(25) && !again.has(15));
  assert.equal(again.nextBdSeq(), 1);
  for (let i = 2; i < 256; i++) again.nextBdSeq();
  assert.equal(again.nextBdSeq(), 0);
  assert.match(readFileSync(join(dir, 'sparkplug.json'), 'utf8'), /"bdSeq":0/);
  writeFileSync(join(dir, 'sparkplug.json'), '{"through":"x"}');
  assert.throws(() => new SparkplugCursor(dir).load(), /not a Sparkplug cursor/);
});
