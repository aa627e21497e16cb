// The sink's verbs as operators call them: real processes, exit codes, one-line errors, JSON out.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateKey } from '../../protocol/signature.ts';
import { sinkConfig } from '../../cloud-sink/config.ts';
import { Sink } from '../../cloud-sink/sink.ts';
import { getJson, makeChain, postJson, tempDir } from '../../test/support/sink.ts';

const BIN = fileURLToPath(new URL('../../bin/fieldproof.js', import.meta.url));
const TOKEN = 'cli-test-admin-token-0123456789';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('sink verbs', () => {
  const tmp = tempDir();
  const key = generateKey();
  let sink: Sink;
  before(async () => {
    sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: join(tmp.dir, 'sink'), devices: [{ id: 'site-a', key: key.public }], adminToken: TOKEN }));
    await sink.start();
  });
  after(async () => {
    await sink.stop();
    tmp.cleanup();
  });

  it('sink: a missing or bad config is one line and exit 2', async () => {
    const missing = await cli(['sink', '--config', join(tmp.dir, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^fieldproof sink: config file .* does not exist\n$/);
    const file = join(tmp.dir, 'bad.yaml');
    writeFileSync(file, 'dataDir: x\nanchor:\n  mode: sometimes\n');
    const bad = await cli(['sink', '--config', file]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /anchor.mode/);
  });

  it('sink-devices adds and lists devices with the admin token, and refuses without it', async () => {
    const k = generateKey();
    const add = await cli(['sink-devices', 'add', '--url', sink.url, '--id', 'site-c', '--key', k.public], { FIELDPROOF_SINK_ADMIN_TOKEN: TOKEN });
    assert.equal(add.code, 0, add.stderr);
    assert.equal(JSON.parse(add.stdout).status, 'added');
    const list = await cli(['sink-devices', 'list', '--url', sink.url, '--token', TOKEN]);
    assert.deepEqual((JSON.parse(list.stdout).devices as { id: string }[]).map((d) => d.id), ['site-a', 'site-c']);
    const wrong = await cli(['sink-devices', 'list', '--url', sink.url, '--token', 'not-the-token-at-all']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /refused: missing or wrong admin token/);
    const badKey = await cli(['sink-devices', 'add', '--url', sink.url, '--token', TOKEN, '--id', 'x', '--key', 'zz']);
    assert.equal(badKey.code, 2);
    const down = await cli(['sink-devices', 'list', '--url', 'http://127.0.0.1:1', '--token', TOKEN]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the sink/);
  });

  it('sink-devices pending-restarts and accept-restart: nothing pending is exit 1, bad flags exit 2, the token required', async () => {
    const none = await cli(['sink-devices', 'pending-restarts', '--url', sink.url, '--token', TOKEN]);
    assert.equal(none.code, 0, none.stderr);
    assert.deepEqual(JSON.parse(none.stdout), { restarts: [] });
    const nothing = await cli(['sink-devices', 'accept-restart', '--url', sink.url, '--token', TOKEN, '--device', 'site-a']);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /site-a has no pending restart/);
    const notAsked = await cli(['sink-devices', 'accept-restart', '--url', sink.url, '--token', TOKEN, '--device', 'site-a', '--epoch', '2']);
    assert.equal(notAsked.code, 1);
    assert.match(notAsked.stderr, /refused: device site-a has asked for no epoch 2/);
    const badEpoch = await cli(['sink-devices', 'accept-restart', '--url', sink.url, '--token', TOKEN, '--device', 'site-a', '--epoch', '1']);
    assert.equal(badEpoch.code, 2);
    const noDevice = await cli(['sink-devices', 'accept-restart', '--url', sink.url, '--token', TOKEN]);
    assert.equal(noDevice.code, 2);
    const noToken = await cli(['sink-devices', 'pending-restarts', '--url', sink.url, '--token', 'not-the-token-at-all']);
    assert.equal(noToken.code, 1);
    for (const out of [nothing, notAsked, badEpoch, noDevice, noToken]) assert.equal(out.stderr.trim().split('\n').length, 1, out.stderr);
  });

  it('verify: exit 0 for a good proof of the key given, 3 without a key, 1 for a changed one, 2 for a file that is not a proof', async () => {
    for (const b of makeChain('site-a', key, 2, 10)) assert.equal((await postJson(sink.url, b)).status, 200);
    const proof = (await getJson(`${sink.url}/v1/proofs/site-a/14`)).body;
    const good = join(tmp.dir, 'good.json');
    writeFileSync(good, JSON.stringify(proof));
    const ok = await cli(['verify', good, '--device-key', key.public]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^proof holds, and ends at the device key given \(not anchored yet\)$/m);
    const rootless = await cli(['verify', good]);
    assert.equal(rootless.code, 3, rootless.stdout + rootless.stderr);
    assert.match(rootless.stdout, /^consistent, but no trust root given: /m);
    const changed = structuredClone(proof) as { record: { ts: number } };
    changed.record.ts += 1;
    const badFile = join(tmp.dir, 'bad.json');
    writeFileSync(badFile, JSON.stringify(changed));
    const bad = await cli(['verify', badFile, '--json']);
    assert.equal(bad.code, 1);
    assert.equal(JSON.parse(bad.stdout).ok, false);
    writeFileSync(join(tmp.dir, 'junk.json'), '{not json');
    const junk = await cli(['verify', join(tmp.dir, 'junk.json')]);
    assert.equal(junk.code, 2);
    assert.match(junk.stderr, /is not JSON/);
  });
});
