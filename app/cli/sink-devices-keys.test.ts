// `fieldproof sink-devices rotate|revoke`, run as an operator runs them, against a real sink that
// anchors through the Aptos SIMULATOR: the registry's entry functions are called on chain, the
// sink's registry follows, batches of a rotated key count until the rotation's time, a revoked
// key's new batches are refused with revoked_key and never anchored, every mistake is one line.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signBatch, headerHash } from '../../protocol/batch.ts';
import { readingRecord } from '../../protocol/records.ts';
import { generateKey, type DeviceKey } from '../../protocol/signature.ts';
import { ChainFixture, chainOf } from '../../cloud-sink/anchor/chain-testing.ts';
import { sinkConfig } from '../../cloud-sink/config.ts';
import { Sink } from '../../cloud-sink/sink.ts';
import { runCli } from '../../test/support/cli.ts';
import { postJson, tempDir } from '../../test/support/sink.ts';
import { loadOrCreateKey } from '../../runtime/device-key.ts';

const TOKEN = 'rotate-revoke-admin-token';
const T0 = 1763884800000;

describe('sink-devices rotate and revoke (Aptos simulator over HTTP)', () => {
  const tmp = tempDir('fieldproof-rotate-');
  const fx = new ChainFixture();
  const op = fx.operator();
  // The device's first key, in a data folder as on the device: `keys endorse` signs with it there.
  const oldDir = join(tmp.dir, 'device');
  const first = loadOrCreateKey(oldDir).key;
  const second = generateKey();
  let sink: Sink;
  let prev = '0'.repeat(64);
  let seq = 0;
  let batchNo = 0;

  /** The next batch of site-k, two readings, signed by `key` and created at `created`. */
  function next(key: DeviceKey, created: number) {
    const records = [1, 2].map(() => ++seq).map((s) => readingRecord('site-k', s, { sensor: 's', metric: 'm', unit: 'u', ts: created - 10, value: s }, { score: 1, flags: [] }));
    return signBatch('site-k', key, batchNo + 1, records, prev, created);
  }
  async function send(batch: ReturnType<typeof next>) {
    const r = await postJson(sink.url, batch);
    if (r.status === 200) {
      batchNo = batch.header.batch;
      prev = headerHash(batch.header);
    } else seq -= batch.records.length;
    return r;
  }
  const cli = (...args: string[]) => runCli(['sink-devices', ...args, '--url', sink.url, '--token', TOKEN]);

  before(async () => {
    await fx.start();
    sink = new Sink(sinkConfig({
      listen: '127.0.0.1:0', dataDir: join(tmp.dir, 'sink'), devices: [{ id: 'site-k', key: first.public }], adminToken: TOKEN, limits: { chainWaitMs: 0 },
      anchor: { mode: 'aptos', intervalMs: 3_600_000, aptos: { node: fx.url, module: op.module, waitSecs: 5 } },
    }), { chain: chainOf(fx, op) });
    await sink.start();
    await sink.deviceKeysSettled();
  });
  after(async () => {
    await sink.stop();
    await fx.stop();
    tmp.cleanup();
  });

  it('rotates with the old key\'s endorsement, on chain and in the sink: the old key counts for batches created before', async () => {
    assert.equal((await send(next(first, T0 + 1000))).body.status, 'stored');
    const validFrom = T0 + 5000;
    const e = await runCli(['keys', 'endorse', '--data-dir', oldDir, '--device', 'site-k', '--operator', op.address, '--new-key', second.public, '--valid-from', String(validFrom), '--json']);
    assert.equal(e.code, 0, e.stderr);
    const { endorsement } = JSON.parse(e.stdout) as { endorsement: string };

    const forged = await cli('rotate', '--id', 'site-k', '--key', second.public, '--valid-from', String(validFrom), '--endorsement', 'ab'.repeat(64));
    assert.equal(forged.code, 1);
    assert.match(forged.stderr.trim(), /^fieldproof sink-devices: the sink refused: the endorsement is not the current key's \([0-9a-f]{64}\) signature over this rotation$/);

    const r = await cli('rotate', '--id', 'site-k', '--key', second.public, '--valid-from', String(validFrom), '--endorsement', endorsement);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { mode: string; previousKey: string; chain: { tx: string } };
    assert.equal(out.mode, 'endorsed');
    assert.equal(out.previousKey, first.public);
    assert.match(out.chain.tx, /^0x[0-9a-f]{64}$/);
    const onChain = await chainOf(fx, op).deviceKeys.deviceKeys('site-k');
    assert.deepEqual(onChain.map((k) => k.key), [first.public, second.public]);

    assert.equal((await send(next(first, T0 + 2000))).body.status, 'stored', 'a batch of the old key created before validFrom');
    const late = await send(next(first, validFrom + 1));
    assert.equal(late.body.code, 'wrong_key', 'the old key after validFrom');
    assert.equal((await send(next(second, validFrom + 10))).body.status, 'stored');
    assert.equal(await sink.anchorNow(), 1, 'every stored batch is valid on chain, so all are anchored');
  });

  it('revokes the current key: new batches of it are refused with revoked_key and not anchored; a lost key is replaced on the operator\'s word', async () => {
    const r = await cli('revoke', '--id', 'site-k', '--from', String(T0 + 20_000));
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { key: string }).key, second.public, 'the current key when --key is not given');
    const onChain = await chainOf(fx, op).deviceKeys.deviceKeys('site-k');
    assert.equal(onChain.at(-1)!.revokedFromMs, BigInt(T0 + 20_000));

    // Whoever holds the revoked key signs the next batch of the chain.
    const thief = await postJson(sink.url, next(second, T0 + 21_000));
    seq -= 2;
    assert.equal(thief.status, 403);
    assert.equal(thief.body.code, 'revoked_key');
    assert.equal(await sink.anchorNow(), null, 'nothing new to anchor');
    const refused = (await sink.metrics.getSingleMetric('fieldproof_sink_refused_total')!.get()).values.find((v) => v.labels.reason === 'revoked_key');
    assert.equal(refused?.value, 1);

    const again = await cli('revoke', '--id', 'site-k', '--from', '1');
    assert.equal(again.code, 1);
    assert.match(again.stderr.trim(), /^fieldproof sink-devices: the sink refused: [0-9a-f]{64} of device site-k is revoked already$/);

    const third = generateKey();
    const lost = await cli('rotate', '--id', 'site-k', '--key', third.public, '--valid-from', String(T0 + 30_000), '--operator-alone');
    assert.equal(lost.code, 0, lost.stderr);
    assert.equal((JSON.parse(lost.stdout) as { mode: string }).mode, 'operator');
    assert.equal((await send(next(third, T0 + 31_000))).body.status, 'stored');
  });

  it('answers every mistake in one line with exit 2 before asking the sink', async () => {
    const two = async (args: string[], message: RegExp) => {
      const r = await cli(...args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr.trim(), message);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    };
    const k = generateKey().public;
    await two(['rotate', '--id', 'site-k', '--key', k, '--valid-from', '1'], /give --endorsement HEX .* or --operator-alone/);
    await two(['rotate', '--id', 'site-k', '--key', k, '--valid-from', 'soon', '--operator-alone'], /--valid-from must be a time/);
    await two(['rotate', '--id', 'site-k', '--key', 'zz', '--valid-from', '1', '--operator-alone'], /--key must be the new 64-digit/);
    await two(['revoke', '--id', 'site-k'], /--from must be a time/);
    await two(['revoke', '--id', 'no such', '--from', '1'], /--id must name the device/);
    const unknown = await cli('revoke', '--id', 'site-x', '--from', '1');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr.trim(), /the sink refused: device site-x is not registered with this sink$/);
  });
});
