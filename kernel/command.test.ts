import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFlags, UsageError } from './command.ts';

test('a flag whose value starts with a dash is a one-line usage error that says how to give it', () => {
  assert.throws(() => parseFlags(['--seconds', '-1'], { seconds: { type: 'string' } }), (err: Error) => {
    assert.ok(err instanceof UsageError);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.match(err.message, /--seconds=-XYZ/);
    return true;
  });
  assert.equal(parseFlags(['--seconds=-1'], { seconds: { type: 'string' } }).values.seconds, '-1');
});
