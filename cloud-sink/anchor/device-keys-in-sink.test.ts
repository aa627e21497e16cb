// The sink with anchor.mode aptos against the Aptos SIMULATOR: the device keys it accepts are
// registered on chain (from its config at start, and `sink-devices add` at runtime), and only
// batches whose key counts on chain at their creation time are anchored; the rest are held back,
// counted and logged, and anchored once the chain agrees.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { generateKey } from '../../protocol/signature.ts';
import { runCli } from '../../test/support/cli.ts';
import { sinkConfig } from '../config.ts';
import { Sink } from '../sink.ts';
import { getJson, makeChain, postJson, tempDir } from '../../test/support/sink.ts';
import { until } from '../../test/support/until.ts';
import { ChainFixture, chainOf } from './chain-testing.ts';
import { verifyProofAgainstOperator } from './operator-check.ts';

const TOKEN = 'device-keys-admin-token-0123456789';

async function metric(sink: Sink, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = sink.metrics.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

describe('device keys on chain, kept by the sink (Aptos simulator over HTTP)', () => {
  const fx = new ChainFixture();
  const op = fx.operator();
  const keyA = generateKey();
  const tmp = tempDir();
  const lines: string[] = [];
  let sink: Sink;
  const start = async () => {
    sink = new Sink(sinkConfig({
      listen: '127.0.0.1:0', dataDir: join(tmp.dir, 'sink'), devices: [{ id: 'site-a', key: keyA.public }, { id: 'site-p', key: '5f2c...' }], adminToken: TOKEN,
      anchor: { mode: 'aptos', intervalMs: 3_600_000, retryMs: 50, aptos: { node: fx.url, module: op.module, waitSecs: 5 } },
    }), { chain: chainOf(fx, op), log: pino({ level: 'info' }, { write: (l: string) => lines.push(l) }) });
    await sink.start();
  };
  const registrations = () => fx.sim.transactions().filter((t) => t.functionId.endsWith('::register_device_key'));
  const anchoredSeqs = async (device: string, seqs: number[]) => {
    const out: number[] = [];
    for (const seq of seqs) if ((await getJson(`${sink.url}/v1/proofs/${device}/${seq}`)).body.anchor) out.push(seq);
    return out;
  };

  before(async () => {
    await fx.start();
    await start();
  });
  after(async () => {
    await sink.stop();
    await fx.stop();
    tmp.cleanup();
  });

  it('registers the configured devices\' keys at start, once across restarts, and skips a placeholder key', async () => {
    await sink.deviceKeysSettled();
    const keys = fx.sim.deviceKeys(op.address, 'site-a');
    assert.deepEqual(keys.map((k) => ({ key: k.key.toString('hex'), from: k.validFromMs, endorsed: k.endorsed })), [{ key: keyA.public, from: 0n, endorsed: false }]);
    assert.equal(await metric(sink, 'fieldproof_sink_device_key_sync_total', { outcome: 'registered' }), 1);
    assert.equal(await metric(sink, 'fieldproof_sink_device_key_sync_total', { outcome: 'invalid' }), 1);
    assert.deepEqual(fx.sim.deviceKeys(op.address, 'site-p'), []);
    await sink.stop();
    await start();
    await sink.deviceKeysSettled();
    assert.equal(registrations().length, 1, 'the restarted sink finds the key on chain and sends nothing');
    assert.equal(await metric(sink, 'fieldproof_sink_device_key_sync_total', { outcome: 'present' }), 1);
  });

  it('refuses to send as an account the configured key does not control, or one that does not exist', async () => {
    const stranger = fx.operator(true);
    const wrongKey = chainOf(fx, { ...op, account: stranger.account });
    await assert.rejects(wrongKey.deviceKeys.register('site-z', generateKey().public, 0), new RegExp(`^Error: the configured Aptos key does not control ${op.address} \\(the account's authentication key is`));
    const nowhere = '0x' + 'de'.repeat(32);
    await assert.rejects(chainOf(fx, { ...op, address: nowhere, module: `${nowhere}::anchor` }).deviceKeys.register('site-z', generateKey().public, 0),
      new RegExp(`the operator account ${nowhere} does not exist on chain`));
    assert.deepEqual(fx.sim.deviceKeys(op.address, 'site-z'), []);
  });

  it('registers the key of a device added with sink-devices add', async () => {
    const keyB = generateKey();
    const add = await runCli(['sink-devices', 'add', '--url', sink.url, '--token', TOKEN, '--id', 'site-b', '--key', keyB.public]);
    assert.equal(add.code, 0, add.stderr);
    await sink.deviceKeysSettled();
    assert.deepEqual(fx.sim.deviceKeys(op.address, 'site-b').map((k) => k.key.toString('hex')), [keyB.public]);
    assert.ok(lines.some((l) => /"msg":"device key registered on chain"/.test(l) && l.includes('"device":"site-b"')));
  });

  it('retries a registration the node refused', async () => {
    fx.sim.failSubmissions(1);
    const keyD = generateKey();
    const res = await fetch(`${sink.url}/v1/devices`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'site-d', key: keyD.public }) });
    assert.equal(res.status, 201);
    await until('the retried registration', () => fx.sim.deviceKeys(op.address, 'site-d').length === 1, 5000);
    assert.ok(await metric(sink, 'fieldproof_sink_device_key_sync_total', { outcome: 'failed' }) >= 1);
    assert.ok(lines.some((l) => l.includes('cannot bring the device key on chain in step') && l.includes('"device":"site-d"')));
  });

  it('anchors only batches whose key counts on chain when they were created, and holds back the rest with a count and a log line', async () => {
    const keyR = generateKey();
    const keyC = generateKey();
    for (const [id, key] of [['site-r', keyR], ['site-c', keyC]] as const) {
      const r = await fetch(`${sink.url}/v1/devices`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ id, key: key.public }) });
      assert.equal(r.status, 201);
    }
    await sink.deviceKeysSettled();
    const a = makeChain('site-a', keyA, 2, 3);
    const r = makeChain('site-r', keyR, 2, 3);
    const c = makeChain('site-c', keyC, 3, 3);
    for (const b of [...a, ...r, ...c]) assert.equal((await postJson(sink.url, b)).status, 200);
    // On chain, the operator revokes site-r's key (stolen), and replaces site-c's from batch 3 on,
    // while the sink still accepts the old keys.
    const registry = chainOf(fx, op).deviceKeys;
    await registry.revoke('site-r', keyR.public, r[1]!.header.created);
    const successor = generateKey();
    await registry.replace('site-c', successor.public, c[2]!.header.created);
    const heldBefore = await metric(sink, 'fieldproof_sink_anchor_held_back_total');

    assert.notEqual(await sink.anchorNow(), null);
    assert.deepEqual(await anchoredSeqs('site-a', [1, 4]), [1, 4]);
    assert.deepEqual(await anchoredSeqs('site-c', [1, 4, 7]), [1, 4], 'batch 3 was created after its key was replaced');
    assert.deepEqual(await anchoredSeqs('site-r', [1, 4]), [], 'a revoked key\'s batches are not anchored any more, whenever they were created');
    assert.equal(await metric(sink, 'fieldproof_sink_anchor_held_back_total') - heldBefore, 3);
    assert.equal(await metric(sink, 'fieldproof_sink_anchor_held_back_batches'), 3);
    const held = lines.map((l) => JSON.parse(l) as { msg: string; device?: string; count?: number; batches?: number[]; reason?: string }).filter((l) => l.msg.startsWith('batches held back from anchoring'));
    // one line per device and reason: batch 2 was created after the revocation time, batch 1 before
    // it but cannot be anchored before the revocation any more
    const rLines = held.filter((l) => l.device === 'site-r').map((l) => ({ count: l.count, batches: l.batches, reason: l.reason!.replace(/ (from|at) \S+.*$/, '') }));
    assert.deepEqual(rLines.sort((x, y) => x.batches![0]! - y.batches![0]!), [
      { count: 1, batches: [1], reason: `key ${keyR.public} of device site-r was revoked on chain` },
      { count: 1, batches: [2], reason: `key ${keyR.public} of device site-r is revoked` },
    ]);
    const cLine = held.find((l) => l.device === 'site-c')!;
    assert.deepEqual({ count: cLine.count, batches: cLine.batches }, { count: 1, batches: [3] });
    assert.match(cLine.reason!, /was rotated out from/);
    assert.equal(await sink.store.unanchoredCount(), 3, 'held back, not dropped: judged again at the next anchor');

    // An honest proof from this sink holds against the operator's account alone.
    const proof = (await getJson(`${sink.url}/v1/proofs/site-c/4`)).body;
    const v = await verifyProofAgainstOperator(proof, { anchorAccount: op.address, aptosNode: fx.url });
    assert.deepEqual({ ok: v.ok, trusted: v.trusted, anchored: v.anchored }, { ok: true, trusted: true, anchored: true }, JSON.stringify(v.steps));

    // Nothing new to anchor: the held-back batches alone make no anchor.
    assert.equal(await sink.anchorNow(), null);
  });
});
