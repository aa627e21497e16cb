// `fieldproof keys`, `sink-key` and `run` on data dirs a script may hand them: one that does not
// exist yet, one with a space in its name, and one that is a file, which must be a one-line error.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { runCli } from '../../test/support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'fieldproof keys '));
after(() => rmSync(dir, { recursive: true, force: true }));
const aFile = join(dir, 'plain file');
writeFileSync(aFile, 'x\n');

it('keys show --json makes the key in a data dir that does not exist yet, and shows the same key after', async () => {
  const data = join(dir, 'new site', 'data');
  const first = await runCli(['keys', 'show', '--data-dir', data, '--json']);
  assert.equal(first.code, 0, first.stderr);
  const { key } = JSON.parse(first.stdout) as { key: string };
  assert.match(key, /^[0-9a-f]{64}$/);
  const again = await runCli(['keys', 'show', '--data-dir', data, '--json']);
  assert.deepEqual(JSON.parse(again.stdout), { key });
});

it('a data dir that is a file, or under one, is a one-line error naming it, not a stack trace', async () => {
  const sinkConfig = join(dir, 'sink.yaml');
  writeFileSync(sinkConfig, `listen: 127.0.0.1:0\ndataDir: ${join(aFile, 'sink')}\ndevices: []\nanchor:\n  mode: none\n`);
  const deviceConfig = join(dir, 'device.yaml');
  writeFileSync(deviceConfig, `device: site-a-gw1\ndataDir: ${aFile}\ndrivers:\n  - kind: simulated\n    id: sim\n    sensors: 1\n    intervalMs: 100\n`);
  for (const args of [
    ['keys', 'show', '--data-dir', aFile, '--json'],
    ['keys', 'init', '--data-dir', join(aFile, 'sub')],
    ['sink-key', 'show', '--config', sinkConfig, '--json'],
    ['run', '--config', deviceConfig],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^fieldproof ${args[0]}: .*plain file.*is not a directory`), r.stderr);
    assert.doesNotMatch(r.stderr, /internal error/);
  }
});
