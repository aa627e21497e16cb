// `fieldproof sink-key show` as operators call it, and the key it prints is the one the sink signs with.
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startSinkProcess } from '../../cloud-sink/sink-process.ts';
import { runCli } from '../../test/support/cli.ts';
import { tempDir } from '../../test/support/sink.ts';

describe('sink-key show', () => {
  const tmp = tempDir();
  after(tmp.cleanup);

  it('makes the key on first call (mode 0600), prints {"key"} and the same key again; the sink signs with it', async () => {
    const config = join(tmp.dir, 'sink.yaml');
    writeFileSync(config, `listen: 127.0.0.1:0\ndataDir: ${join(tmp.dir, 'sink')}\n`);
    const first = await runCli(['sink-key', 'show', '--config', config, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const { key } = JSON.parse(first.stdout) as { key: string };
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.deepEqual(Object.keys(JSON.parse(first.stdout)), ['key']);
    assert.equal(statSync(join(tmp.dir, 'sink', 'sink.key')).mode & 0o777, 0o600);
    const again = await runCli(['sink-key', 'show', '--config', config, '--json']);
    assert.deepEqual(JSON.parse(again.stdout), { key });
    const sink = await startSinkProcess(config);
    try {
      assert.equal(sink.logs.find((l) => l.msg === 'sink listening')?.receiptKey, key);
    } finally {
      await sink.stop();
    }
  });

  it('uses the key: path of the config', async () => {
    const config = join(tmp.dir, 'keyed.yaml');
    writeFileSync(config, `listen: 127.0.0.1:0\ndataDir: ${join(tmp.dir, 'keyed')}\nkey: receipts.key\n`);
    const r = await runCli(['sink-key', 'show', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[0-9a-f]{64}\n$/);
    assert.equal(statSync(join(tmp.dir, 'receipts.key')).mode & 0o777, 0o600);
  });

  it('refuses a missing sub-verb or config in one line', async () => {
    const r = await runCli(['sink-key', '--config', join(tmp.dir, 'sink.yaml')]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    const missing = await runCli(['sink-key', 'show', '--config', join(tmp.dir, 'nope.yaml')]);
    assert.notEqual(missing.code, 0);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
  });
});
