import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { HALT_FILE, writeHalt } from '../../runtime/uplink/halt.ts';
import { runCli } from '../../test/support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'fieldproof-uplink-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('uplink status says why it stopped, and resume lifts the stop', async () => {
  let out = await runCli(['uplink', 'status', '--data-dir', dir, '--json']);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), { halted: null });
  const halt = { code: 'equivocation' as const, epoch: 1, batch: 7, error: 'batch 7 differs', at: 1 };
  writeHalt(dir, halt);
  out = await runCli(['uplink', 'status', '--data-dir', dir, '--json']);
  assert.deepEqual(JSON.parse(out.stdout), { halted: halt });
  out = await runCli(['uplink', 'resume', '--data-dir', dir, '--json']);
  assert.equal(out.code, 0);
  assert.deepEqual(JSON.parse(out.stdout), { resumed: true, was: halt });
  assert.equal(existsSync(join(dir, HALT_FILE)), false);
  out = await runCli(['uplink', 'pause', '--data-dir', dir]);
  assert.equal(out.code, 2);
  assert.equal(out.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
});
