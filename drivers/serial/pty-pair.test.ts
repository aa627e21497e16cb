import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { test } from 'node:test';
import { describeOpenError } from './serial-line.ts';
import { PtyPair } from './pty-pair.ts';

// Bytes through the pair are covered by the driver tests (mhz19.test.ts, ion7550.test.ts), which
// also unplug and replug it under a running driver.
test('a pty pair has two pts ends, disappears on stop, comes back under the same paths, and cleans up', async () => {
  const pair = await PtyPair.open();
  try {
    assert.match(realpathSync(pair.devicePath), /^\/dev\/pts\/\d+$/);
    assert.match(realpathSync(pair.peerPath), /^\/dev\/pts\/\d+$/);
    assert.notEqual(realpathSync(pair.devicePath), realpathSync(pair.peerPath));
    assert.equal(pair.running, true);
    await pair.stop();
    assert.equal(pair.running, false);
    assert.equal(existsSync(pair.devicePath), false, 'unplugged: the port is gone');
    await pair.start();
    assert.equal(existsSync(pair.devicePath), true, 'plugged back under the same path');
  } finally {
    await pair.dispose();
  }
  assert.equal(existsSync(pair.dir), false, 'dispose removes the temp folder');
});

test('open errors read as a sentence', () => {
  assert.equal(describeOpenError('/dev/ttyX', new Error('Error: No such file or directory, cannot open /dev/ttyX')), 'no serial port at /dev/ttyX (unplugged, or a wrong path?)');
  assert.match(describeOpenError('/dev/ttyS0', new Error('Error: Permission denied, cannot open /dev/ttyS0')), /dialout/);
  assert.match(describeOpenError('/dev/ttyS0', new Error('Error Resource temporarily unavailable Cannot lock port')), /in use by another program/);
});
