// `fieldproof verify` against forged proofs, run as a verifier runs it (the real command, a child
// process) against the Aptos SIMULATOR over HTTP. Every forgery a proof can carry is refused with
// its exact reason and exit code: a key of the forger's own, another device's key, a made-up
// anchor, an anchor another account sent, another account's copy of the module, a revoked key,
// a tampered record, path or header, a record claimed for a pruned batch, a forged prune, a forged
// restart record of a restored journal, and files no proof is.
// And the honest proof a sink serves holds at either trust root, and without one is only consistent.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Hex } from '@aptos-labs/ts-sdk';
import { headerHash, signBatch, type Batch } from '../../protocol/batch.ts';
import { gapRecord, readingRecord } from '../../protocol/records.ts';
import { restartRecord } from '../../protocol/restart.ts';
import type { RecordProof } from '../../protocol/proof.ts';
import { generateKey } from '../../protocol/signature.ts';
import { ChainFixture, chainOf, recordProof, type Operator } from '../../cloud-sink/anchor/chain-testing.ts';
import type { DeviceKeyChain } from '../../cloud-sink/anchor/device-key-chain.ts';
import { whenMs } from '../../cloud-sink/anchor/device-keys.ts';
import { sinkConfig } from '../../cloud-sink/config.ts';
import { Sink } from '../../cloud-sink/sink.ts';
import { runCli } from '../../test/support/cli.ts';
import { getJson, makeChain, postJson, tempDir } from '../../test/support/sink.ts';

interface Step {
  step: string;
  ok: boolean;
  detail?: string;
}

interface Verdict {
  code: number | null;
  ok: boolean;
  trusted: boolean;
  anchored: boolean;
  steps: Step[];
  stderr: string;
}

const ADMIN_TOKEN = 'forgeries-admin-token-0123';

describe('fieldproof verify refuses forged proofs (Aptos simulator over HTTP)', () => {
  const tmp = tempDir('fieldproof-forgeries-');
  const fx = new ChainFixture();
  const op = fx.operator();
  let attacker: Operator;
  let registry: DeviceKeyChain;
  let sink: Sink;
  const keyA = generateKey();
  const keyB = generateKey();
  let files = 0;

  /** Writes `proof` (an object, or raw text) to a file and runs `fieldproof verify FILE ...flags --json`. */
  async function verify(proof: unknown, ...flags: string[]): Promise<Verdict> {
    const file = join(tmp.dir, `proof-${++files}.json`);
    writeFileSync(file, typeof proof === 'string' ? proof : JSON.stringify(proof));
    const out = await runCli(['verify', file, ...flags, '--json']);
    if (out.stdout === '') return { code: out.code, ok: false, trusted: false, anchored: false, steps: [], stderr: out.stderr };
    const v = JSON.parse(out.stdout) as Omit<Verdict, 'code' | 'stderr'>;
    return { ...v, code: out.code, stderr: out.stderr };
  }
  const byDevice = (proof: unknown, key = keyA.public) => verify(proof, '--device-key', key);
  const byOperator = (proof: unknown, account = op.address) => verify(proof, '--anchor-account', account, '--aptos-node', fx.url);

  /** Refused, with exit 1, at `step`, for exactly `detail`, and no step after it. */
  function refused(v: Verdict, step: string, detail: string): void {
    assert.equal(v.code, 1, JSON.stringify(v));
    assert.deepEqual({ ok: v.ok, trusted: v.trusted }, { ok: false, trusted: false });
    assert.deepEqual(v.steps.at(-1), { step, ok: false, detail });
    assert.ok(v.steps.slice(0, -1).every((s) => s.ok), JSON.stringify(v.steps));
  }

  before(async () => {
    await fx.start();
    attacker = fx.operator(true);
    registry = chainOf(fx, op).deviceKeys;
    await registry.register('site-b', keyB.public, 0);
    // The operator's sink, anchoring through the simulator as the operator's account.
    sink = new Sink(sinkConfig({
      listen: '127.0.0.1:0', dataDir: join(tmp.dir, 'sink'), devices: [{ id: 'site-a', key: keyA.public }], limits: { chainWaitMs: 0 }, adminToken: ADMIN_TOKEN,
      anchor: { mode: 'aptos', intervalMs: 3_600_000, aptos: { node: fx.url, module: op.module, waitSecs: 5 } },
    }), { chain: chainOf(fx, op) });
    await sink.start();
  });
  after(async () => {
    await sink?.stop();
    await fx.stop();
    tmp.cleanup();
  });

  describe('the honest proof a sink serves', () => {
    let served: RecordProof;
    let unanchored: RecordProof;

    before(async () => {
      for (const b of makeChain('site-a', keyA, 3, 6)) assert.equal((await postJson(sink.url, b)).status, 200);
      assert.equal(await sink.anchorNow(), 1);
      const res = await getJson(`${sink.url}/v1/proofs/site-a/9`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      served = res.body as unknown as RecordProof;
      assert.equal(served.anchor?.sender, op.address, 'the proof names its sender, as a hint');
      unanchored = { ...served };
      delete unanchored.anchor;
    });

    it('holds at the device key given (exit 0), offline', async () => {
      const v = await byDevice(served);
      assert.equal(v.code, 0, v.stderr);
      assert.deepEqual({ ok: v.ok, trusted: v.trusted, anchored: v.anchored }, { ok: true, trusted: true, anchored: true });
      assert.deepEqual(v.steps.map((s) => s.step), ['batch signature', 'given key', 'record in batch', 'batch in anchor']);
      assert.equal((await byDevice(unanchored, keyA.public.toUpperCase())).code, 0, 'the key in any case; unanchored holds too');
    });

    it('holds at the operator\'s account alone (exit 0), the anchor and the key registration checked on chain', async () => {
      const v = await byOperator(served);
      assert.equal(v.code, 0, JSON.stringify(v));
      assert.deepEqual({ ok: v.ok, trusted: v.trusted, anchored: v.anchored }, { ok: true, trusted: true, anchored: true });
      assert.deepEqual(v.steps.map((s) => s.step), ['batch signature', 'record in batch', 'batch in anchor', 'anchor transaction', 'anchor sender', 'anchor call', 'anchor view', 'device key']);
      const both = await verify(served, '--device-key', keyA.public, '--anchor-account', op.address.replace(/^0x0+/, '0x'), '--aptos-node', fx.url);
      assert.equal(both.code, 0, JSON.stringify(both));
      assert.equal(both.steps.length, 9);
    });

    it('without a trust root is only consistent (exit 3), and says so in one line', async () => {
      const v = await verify(served);
      assert.equal(v.code, 3, v.stderr);
      assert.deepEqual({ ok: v.ok, trusted: v.trusted, anchored: v.anchored }, { ok: true, trusted: false, anchored: true });
      const human = await runCli(['verify', join(tmp.dir, `proof-${files}.json`)]);
      assert.equal(human.code, 3);
      const verdict = human.stdout.trim().split('\n').at(-1)!;
      assert.match(verdict, /^consistent, but no trust root given: it is signed by the key it carries \([0-9a-f]{64}\) and anchored by an account it names, which anyone can make; give --device-key HEX or --anchor-account ADDR --aptos-node URL/);
      // The chain's own word on the proof's transaction is not a root either.
      const online = await verify(served, '--aptos-node', fx.url);
      assert.equal(online.code, 3, JSON.stringify(online));
      assert.deepEqual(online.steps.map((s) => s.step).slice(3), ['anchor transaction', 'anchor call', 'anchor view']);
    });

    it('an anchor on another chain than the node serves: refused before the transaction is looked for', async () => {
      const elsewhere = { ...served, anchor: { ...served.anchor!, chain: 'aptos:mainnet' } };
      const detail = `the node at ${fx.url} serves aptos:testnet, not aptos:mainnet, the chain the proof's anchor names`;
      refused(await byOperator(elsewhere), 'anchor transaction', detail);
      refused(await verify(elsewhere, '--aptos-node', fx.url), 'anchor transaction', detail);
      // Nor does the proof choose the tree's size, which decides the sides of its path.
      refused(await verify({ ...served, anchor: { ...served.anchor!, size: served.anchor!.size + 1 } }, '--aptos-node', fx.url), 'anchor call',
        `the transaction recorded ${served.anchor!.size} batch headers, the proof's anchor tree has ${served.anchor!.size + 1}`);
      // A chain the sink was configured to call by a name of its own is not compared.
      assert.equal((await byOperator({ ...served, anchor: { ...served.anchor!, chain: 'operator-testnet' } })).code, 0);
    });

    it('an old proof, served before the sender was carried, still holds', async () => {
      const old = structuredClone(served);
      delete old.anchor!.sender;
      assert.equal((await byOperator(old)).code, 0);
    });
  });

  describe('forgeries', () => {
    it('a reading made up from nothing, signed with a fresh key, under a made-up anchor: consistent, and refused at every root', async () => {
      const forger = generateKey();
      const forged = recordProof(makeChain('site-z', forger, 2, 3), 1, 2, { tx: '0x' + '5a'.repeat(32), version: 77, module: op.module });
      const noRoot = await verify(forged);
      assert.equal(noRoot.code, 3, 'nothing in a proof alone tells a forgery: exit 3, never 0');
      refused(await byDevice(forged), 'given key', `the batch was signed by ${forger.public}, not by the device key given (${keyA.public})`);
      refused(await byOperator(forged), 'anchor transaction', `transaction 0x${'5a'.repeat(32)} is not on the chain of ${fx.url}`);
      // Not anchored at all, the made-up device has no key at the operator's.
      const { anchor: _, ...bare } = forged;
      refused(await byOperator(bare), 'device key', `${op.address} registered no key for device site-z`);
    });

    it('an anchor made up by whoever holds the device key: holds at that key, and the verdict says the anchor went unchecked', async () => {
      const forged = recordProof(makeChain('site-a', keyA, 2, 3), 1, 0, { tx: '0x' + '6b'.repeat(32), version: 9, module: op.module });
      const file = join(tmp.dir, 'made-up-anchor.json');
      writeFileSync(file, JSON.stringify(forged));
      const human = await runCli(['verify', file, '--device-key', keyA.public]);
      assert.equal(human.code, 0, 'the device key says nothing of the anchor');
      assert.equal(human.stdout.trim().split('\n').at(-1), 'proof holds, and ends at the device key given (its anchor is not checked on chain: give --anchor-account ADDR --aptos-node URL to check it)');
      const online = await runCli(['verify', file, '--device-key', keyA.public, '--aptos-node', fx.url]);
      assert.equal(online.code, 1);
      assert.match(online.stdout.trim().split('\n').at(-1)!, /^proof does NOT hold: anchor transaction: transaction 0x(6b){32} is not on this chain$/);
    });

    it('a record under the name of one device, signed with another device\'s key', async () => {
      const forged = recordProof(makeChain('site-a', keyB, 1, 4), 0, 1);
      refused(await byDevice(forged), 'given key', `the batch was signed by ${keyB.public}, not by the device key given (${keyA.public})`);
      refused(await byOperator(forged), 'device key', `key ${keyB.public} is not a key ${op.address} registered for device site-a`);
    });

    it('an honest batch under a made-up anchor, or under a real transaction of another root', async () => {
      const batches = makeChain('site-b', keyB, 2, 7);
      const made = recordProof(batches, 0, 3, { tx: '0x' + '12'.repeat(32), version: 5, module: op.module });
      refused(await byOperator(made), 'anchor transaction', `transaction 0x${'12'.repeat(32)} is not on the chain of ${fx.url}`);
      const other = await fx.anchor(op.account, op.module, makeChain('site-b', keyB, 2, 8));
      const borrowed = recordProof(batches, 0, 3, { tx: other.tx, version: other.version, module: op.module });
      const v = await byOperator(borrowed);
      assert.equal(v.steps.at(-1)!.step, 'anchor call');
      assert.match(v.steps.at(-1)!.detail!, new RegExp(`^the transaction recorded root 0x[0-9a-f]{64}, not the proof's ${borrowed.anchor!.root}$`));
      assert.equal(v.code, 1);
    });

    it('an anchor sent by another account, into the operator\'s module, whatever sender the proof names', async () => {
      const batches = makeChain('site-b', keyB, 2, 9);
      const sent = await fx.anchor(attacker.account, op.module, batches);
      assert.equal(sent.success, true, 'anyone may call record_root, into their own table');
      const forged = recordProof(batches, 1, 0, { tx: sent.tx, version: sent.version, module: op.module });
      const reason = `the anchor transaction was sent by ${attacker.address}, not by the operator ${op.address}`;
      refused(await byOperator(forged), 'anchor sender', reason);
      refused(await byOperator({ ...forged, anchor: { ...forged.anchor, sender: op.address } }), 'anchor sender', reason);
      // The operator's own transaction, with a sender hint that lies, marks the proof as made up.
      const honest = await fx.anchor(op.account, op.module, makeChain('site-b', keyB, 2, 10));
      const hinted = recordProof(makeChain('site-b', keyB, 2, 10), 0, 0, { tx: honest.tx, version: honest.version, module: op.module });
      refused(await byOperator({ ...hinted, anchor: { ...hinted.anchor, sender: attacker.address } }), 'anchor sender', `the proof names the sender ${attacker.address}, but the operator ${op.address} sent the transaction`);
    });

    it('an anchor into another account\'s copy of the module, which holds at that account and at no other', async () => {
      const batches = makeChain('site-b', keyB, 2, 11);
      const sent = await fx.anchor(op.account, attacker.module, batches);
      const reason = `the transaction called ${attacker.module}::record_root, not the operator's ${op.module}::record_root`;
      refused(await byOperator(recordProof(batches, 0, 0, { tx: sent.tx, version: sent.version, module: attacker.module })), 'anchor call', reason);
      refused(await byOperator(recordProof(batches, 0, 0, { tx: sent.tx, version: sent.version, module: op.module })), 'anchor call', reason);

      // Everything the attacker's own: key registered in its registry, anchored in its module.
      const own = generateKey();
      await fx.send(attacker.account, attacker.module, 'register_device_key', ['site-b', Hex.fromHexInput(own.public).toUint8Array(), 0]);
      const forgedBatches = makeChain('site-b', own, 1, 5);
      const theirs = await fx.anchor(attacker.account, attacker.module, forgedBatches);
      const forged = recordProof(forgedBatches, 0, 4, { tx: theirs.tx, version: theirs.version, module: attacker.module });
      assert.equal((await byOperator(forged, attacker.address)).code, 0, 'it ends at the attacker\'s account: the root is the caller\'s choice');
      refused(await byOperator(forged), 'anchor sender', `the anchor transaction was sent by ${attacker.address}, not by the operator ${op.address}`);
      refused(await byDevice(forged, keyB.public), 'given key', `the batch was signed by ${own.public}, not by the device key given (${keyB.public})`);
    });

    it('an anchor its account\'s upgraded module dates earlier than its transaction: the chain\'s time wins', async () => {
      // The attacker runs its own "operator": its own key, registered and anchored in its own module, which it then upgrades.
      const own = generateKey();
      await fx.send(attacker.account, attacker.module, 'register_device_key', ['site-u', Hex.fromHexInput(own.public).toUint8Array(), 0]);
      const batches = makeChain('site-u', own, 1, 3);
      const sent = await fx.anchor(attacker.account, attacker.module, batches);
      const forged = recordProof(batches, 0, 1, { tx: sent.tx, version: sent.version, module: attacker.module });
      assert.equal((await byOperator(forged, attacker.address)).code, 0, 'before the upgrade, it holds at the attacker\'s account');
      const committedUs = fx.sim.transactions().find((t) => t.hash === sent.tx)!.timestampUs;
      const root = forged.anchor!.root;
      fx.sim.upgradeView(attacker.address, 'anchored_at', (args) => [String(args[1]) === `0x${root}` ? '1500000000000000' : fx.sim.anchoredAt(String(args[0]), String(args[1]), attacker.address).toString()]);
      const v = await byOperator(forged, attacker.address);
      refused(v, 'anchor view', `anchored_at(${attacker.address}, root) says 2017-07-14T02:40:00.000Z, but the transaction that recorded the root committed at ${whenMs(committedUs / 1000n)}: the module does not keep the chain's time`);
      const online = await verify(forged, '--aptos-node', fx.url);
      assert.equal(online.code, 1);
      assert.match(online.steps.at(-1)!.detail!, /^anchored_at\(0x[0-9a-f]{64}, root\) says 2017-07-14T02:40:00\.000Z, but the transaction committed at .+: the module does not keep the chain's time$/);
    });

    it('a record of a revoked key: created from the revocation time on, or anchored only after the revocation', async () => {
      // A stolen key, revoked from the third batch on; the thief's batches are the later ones.
      const stolen = generateKey();
      const chain = makeChain('site-r', stolen, 4, 3);
      await registry.register('site-r', stolen.public, 0);
      const early = await fx.anchor(op.account, op.module, chain.slice(0, 2));
      const cutoff = chain[2]!.header.created;
      await registry.revoke('site-r', stolen.public, cutoff);
      const late = await fx.anchor(op.account, op.module, chain);
      const proofOf = (batch: number, sent: { tx: string; version: number }, batches = chain) =>
        recordProof(batches, batch, 2, { tx: sent.tx, version: sent.version, module: op.module });

      assert.equal((await byOperator(proofOf(1, early, chain.slice(0, 2)))).code, 0, 'created before the cutoff, anchored before the revocation');
      refused(await byOperator(proofOf(3, late)), 'device key',
        `key ${stolen.public} of device site-r is revoked from ${whenMs(BigInt(cutoff))}; the batch was created after, at ${whenMs(BigInt(chain[3]!.header.created))}`);
      const v = await byOperator(proofOf(1, late));
      assert.equal(v.code, 1, 'dated before the cutoff, but first anchored after the revocation: what a thief could make');
      assert.match(v.steps.at(-1)!.detail!, new RegExp(`^key ${stolen.public} of device site-r was revoked on chain at .+, before the batch was anchored`));
      assert.equal((await byDevice(proofOf(3, late), stolen.public)).code, 0, 'the device key alone cannot tell a revoked key: the docs say so');
    });

    describe('a restored journal: a new epoch joined to the old chain', () => {
      let head: { batch: number; hash: string };
      let epoch2: Batch;
      const reading = (seq: number) => readingRecord('site-a', seq, { sensor: 's-1', metric: 'co2_ppm', ts: 1763890000000 + seq, value: 400 + seq, unit: 'ppm' }, { score: 1, flags: [] });

      before(async () => {
        head = (await getJson(`${sink.url}/v1/devices/site-a/head`)).body as unknown as { batch: number; hash: string };
        const restart = restartRecord('site-a', 2, 'journal_behind_sink', { epoch: 1, batch: head.batch, hash: head.hash }, 1, 1763890000000);
        epoch2 = signBatch('site-a', keyA, 1, [restart, reading(2)], head.hash, 1763890000001, 2);
        assert.equal((await postJson(sink.url, epoch2)).body.code, 'restart_pending', 'the sink waits for the admin');
        assert.equal((await sink.store.acceptRestart('site-a', 2, Date.now())).status, 'accepted');
        assert.equal((await postJson(sink.url, epoch2)).status, 200);
        assert.equal(await sink.anchorNow(), 2);
      });

      it('a proof of the old epoch still holds, and so does the restart record\'s, at either root', async () => {
        const old = (await getJson(`${sink.url}/v1/proofs/site-a/9`)).body;
        assert.equal((await byDevice(old)).code, 0);
        const res = await getJson(`${sink.url}/v1/proofs/site-a/1?epoch=2`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const proof = res.body as unknown as RecordProof;
        assert.equal(proof.record.kind, 'restart');
        assert.equal((await byDevice(proof)).code, 0);
        assert.equal((await byOperator(proof)).code, 0, JSON.stringify(await byOperator(proof)));
        assert.equal((await byDevice((await getJson(`${sink.url}/v1/proofs/site-a/2?epoch=2`)).body)).code, 0);
      });

      it('the honest proof of another record than the one asked for: another seq, the same seq of another epoch, another device', async () => {
        // What a sink asked for seq 2 of site-a may answer instead; each link of each holds.
        const epoch2seq2 = (await getJson(`${sink.url}/v1/proofs/site-a/2?epoch=2`)).body;
        assert.equal((await byDevice(epoch2seq2)).code, 0);
        const asked = (proof: unknown, ...flags: string[]) => verify(proof, '--device-key', keyA.public, ...flags);
        refused(await asked(epoch2seq2, '--device', 'site-a', '--seq', '2'), 'record asked', 'the proof is of seq 2 of epoch 2 of site-a, not of seq 2 of epoch 1 of site-a as asked');
        refused(await asked((await getJson(`${sink.url}/v1/proofs/site-a/3`)).body, '--seq', '2'), 'record asked', 'the proof is of seq 3 of epoch 1 of site-a, not of seq 2 of epoch 1 as asked');
        const held = await asked(epoch2seq2, '--device', 'site-a', '--seq', '2', '--epoch', '2');
        assert.equal(held.code, 0, JSON.stringify(held));
        assert.deepEqual(held.steps.at(-2), { step: 'record asked', ok: true, detail: 'the proof is of seq 2 of epoch 2 of site-a, as asked' });
        // At the operator's account, site-b's honest proof holds too: only the ask tells it from site-a's.
        const siteB = recordProof(makeChain('site-b', keyB, 1, 4), 0, 1);
        assert.equal((await byOperator(siteB)).code, 0);
        refused(await verify(siteB, '--anchor-account', op.address, '--aptos-node', fx.url, '--device', 'site-a', '--seq', '2'), 'record asked', 'the proof is of seq 2 of epoch 1 of site-b, not of seq 2 of epoch 1 of site-a as asked');
        const bad = await verify(siteB, '--seq', '0');
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /--seq must be a positive integer, got "0"/);
      });

      it('a restart record that names another batch than its batch chains to, or sits in another epoch, is refused with its reason', async () => {
        const lie = restartRecord('site-a', 2, 'journal_lost', { epoch: 1, batch: 1, hash: 'ab'.repeat(32) }, 0, 1763890000000);
        const forged = signBatch('site-a', keyA, 1, [lie], head.hash, 1763890000002, 2);
        refused(await byDevice(recordProof([forged], 0, 0)), 'record', "the restart record names a batch other than the one its batch's prev chains to");
        const misplaced = signBatch('site-a', keyA, 4, [{ ...restartRecord('site-a', 2, 'journal_lost', { epoch: 1, batch: 3, hash: head.hash }, 0, 1), seq: 1 }], head.hash, 1763890000003);
        refused(await byDevice(recordProof([misplaced], 0, 0)), 'record', 'the restart record opens epoch 2 but its batch is of epoch 1');
        const third = signBatch('site-a', keyA, 1, [restartRecord('site-a', 3, 'journal_lost', { epoch: 1, batch: 1, hash: 'ab'.repeat(32) }, 0, 1)], 'ab'.repeat(32), 1763890000004, 3);
        const answer = await postJson(sink.url, third);
        assert.deepEqual([answer.status, answer.body.code], [422, 'bad_restart'], 'nor does the sink take it as a restart');
      });
    });

    it('record from a revoked key: revoked through the sink, the sink refuses its new batches, and verify refuses a proof of one', async () => {
      const stolen = generateKey();
      const add = await runCli(['sink-devices', 'add', '--url', sink.url, '--token', ADMIN_TOKEN, '--id', 'site-s', '--key', stolen.public]);
      assert.equal(add.code, 0, add.stderr);
      await sink.deviceKeysSettled();
      const chain = makeChain('site-s', stolen, 3, 3);
      assert.equal((await postJson(sink.url, chain[0]!)).status, 200);
      const cutoff = chain[1]!.header.created;
      const revoke = await runCli(['sink-devices', 'revoke', '--url', sink.url, '--token', ADMIN_TOKEN, '--id', 'site-s', '--from', String(cutoff)]);
      assert.equal(revoke.code, 0, revoke.stderr);
      const refusedBatch = await postJson(sink.url, chain[1]!);
      assert.equal(refusedBatch.body.code, 'revoked_key', 'the sink takes nothing new of the revoked key');
      // The thief anchors nothing through the sink; a proof of its batch, anchored by the operator's account all the same, still fails.
      const sent = await fx.anchor(op.account, op.module, chain);
      const proof = recordProof(chain, 2, 1, { tx: sent.tx, version: sent.version, module: op.module });
      refused(await byOperator(proof), 'device key',
        `key ${stolen.public} of device site-s is revoked from ${whenMs(BigInt(cutoff))}; the batch was created after, at ${whenMs(BigInt(chain[2]!.header.created))}`);
    });

    describe('tampering with an honest proof', () => {
      let batches: Batch[];
      let honest: RecordProof;

      before(async () => {
        batches = makeChain('site-b', keyB, 3, 5);
        const sent = await fx.anchor(op.account, op.module, batches);
        honest = recordProof(batches, 1, 2, { tx: sent.tx, version: sent.version, module: op.module });
        assert.equal((await byOperator(honest)).code, 0);
      });
      const changed = (f: (p: RecordProof) => void) => {
        const p = structuredClone(honest);
        f(p);
        return p;
      };

      it('the record\'s value, its time, or its sequence number', async () => {
        refused(await byDevice(changed((p) => ((p.record as { value: number }).value += 0.01)), keyB.public), 'record in batch', 'the record and path do not lead to header.root');
        refused(await byDevice(changed((p) => ((p.record as { ts: number }).ts += 1)), keyB.public), 'record in batch', 'the record and path do not lead to header.root');
        refused(await byDevice(changed((p) => (p.record.seq += 1)), keyB.public), 'record', `index 2 does not match seq ${honest.record.seq + 1}`);
        refused(await byDevice(changed((p) => ((p.record as { device: string }).device = 'site-a')), keyB.public), 'record', 'record device site-a is not the header\'s site-b');
      });

      it('the record\'s path, or the header\'s path to the anchor', async () => {
        refused(await byDevice(changed((p) => (p.path[0] = 'ab'.repeat(32))), keyB.public), 'record in batch', 'the record and path do not lead to header.root');
        refused(await byDevice(changed((p) => p.path.pop()), keyB.public), 'record in batch', 'the record and path do not lead to header.root');
        refused(await byDevice(changed((p) => (p.path = Array(65).fill('ab'.repeat(32)))), keyB.public), 'record', 'path must be a list of at most 64 64-digit hex hashes');
        refused(await byDevice(changed((p) => (p.anchor!.path[0] = 'cd'.repeat(32))), keyB.public), 'batch in anchor', 'the header hash and anchor path do not lead to anchor.root');
        refused(await byDevice(changed((p) => (p.anchor!.index = 0)), keyB.public), 'batch in anchor', 'the header hash and anchor path do not lead to anchor.root');
        refused(await byDevice(changed((p) => (p.anchor!.tx = '../accounts/0x1')), keyB.public), 'anchor', 'anchor.tx must be 0x and 64 lowercase hex digits');
      });

      it('the signed header: any field, the signature, or the key', async () => {
        refused(await byDevice(changed((p) => (p.header.created += 1)), keyB.public), 'batch signature', `the header signature does not verify with header.key ${keyB.public}`);
        refused(await byDevice(changed((p) => (p.header.sig = p.header.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')))), keyB.public), 'batch signature', `the header signature does not verify with header.key ${keyB.public}`);
        refused(await byDevice(changed((p) => (p.header.key = keyA.public)), keyB.public), 'batch signature', `the header signature does not verify with header.key ${keyA.public}`);
        refused(await byDevice(changed((p) => ((p.header as unknown as Record<string, unknown>).extra = 1)), keyB.public), 'header', 'header has an unknown field extra');
      });
    });

    it('a record claimed for a pruned batch, whose records the sink never held', async () => {
      const chain = makeChain('site-b', keyB, 2, 4);
      const pruned = chain[1]!.header;
      const madeUp = { ...chain[1]!.records[1]!, value: 999 };
      const forged = { record: madeUp, index: 1, path: ['00'.repeat(32), '11'.repeat(32)], header: pruned };
      refused(await byDevice(forged, keyB.public), 'record in batch', 'the record and path do not lead to header.root');
      refused(await byDevice({ ...forged, pruned: true }, keyB.public), 'record in batch', 'the record and path do not lead to header.root');
    });

    it('forged prune: a drop proof whose gap record does not name the batch, or names it under another hash', async () => {
      const b1 = makeChain('site-b', keyB, 1, 4)[0]!;
      const prev = headerHash(b1.header);
      const dropProof = (refs: { batch: number; hash: string }[] | undefined, pruned = b1.header) => {
        const gap = gapRecord('site-b', 5, 4, 1, 2, 'disk_full', refs);
        const b2 = signBatch('site-b', keyB, 2, [gap], prev, 1763884900000);
        return { record: gap, index: 0, path: [], header: b2.header, pruned: { header: pruned } };
      };
      const honest = await byDevice(dropProof([{ batch: 1, hash: prev }]), keyB.public);
      assert.equal(honest.code, 0, JSON.stringify(honest));
      assert.equal(honest.steps.at(-1)!.step, 'dropped');
      // Asked for a seq of the dropped batch, the drop proof answers it; for the gap record's own seq, it does not.
      assert.equal((await verify(dropProof([{ batch: 1, hash: prev }]), '--device-key', keyB.public, '--seq', '3')).code, 0);
      refused(await verify(dropProof([{ batch: 1, hash: prev }]), '--device-key', keyB.public, '--seq', '5'), 'record asked', 'the proof is of seq 1..4 (dropped) of epoch 1 of site-b, not of seq 5 of epoch 1 as asked');
      refused(await byDevice(dropProof(undefined), keyB.public), 'dropped', 'the gap record does not name batch 1 with this header hash: a forged prune');
      // batch 2 of a later epoch is not after batch 1 of epoch 1: numbers start again in each epoch
      const gap2 = gapRecord('site-b', 5, 4, 1, 2, 'disk_full', [{ batch: 1, hash: prev }]);
      const inEpoch2 = { record: gap2, index: 0, path: [], header: signBatch('site-b', keyB, 2, [gap2], prev, 1763884900000, 2).header, pruned: { header: b1.header } };
      refused(await byDevice(inEpoch2, keyB.public), 'dropped', "the gap record is in epoch 2, not in the dropped batch's epoch 1");
      refused(await byDevice(dropProof([{ batch: 1, hash: '00'.repeat(32) }]), keyB.public), 'dropped', 'the gap record does not name batch 1 with this header hash: a forged prune');
      const other = makeChain('site-b', keyA, 1, 4)[0]!.header;
      refused(await byDevice(dropProof([{ batch: 1, hash: headerHash(other) }], other), keyB.public), 'dropped', 'the dropped batch is not of the same device and key as the gap record');
    });

    it('files no proof is, and flags no verifier means: exit 2 in one line, before any check', async () => {
      const two = async (v: Promise<Verdict>, message: RegExp) => {
        const r = await v;
        assert.equal(r.code, 2, JSON.stringify(r));
        assert.deepEqual(r.steps, []);
        assert.match(r.stderr.trim(), message);
        assert.equal(r.stderr.trim().split('\n').length, 1);
      };
      await two(byDevice('{'.repeat(40) + '}'.repeat(40)), /^fieldproof verify: \S+ nests deeper than 32 levels, which no proof does$/);
      await two(byDevice(JSON.stringify({ record: 'x'.repeat((1 << 20) + 1) })), /^fieldproof verify: \S+ is larger than 1048576 bytes, which no proof is$/);
      await two(byDevice('{"record":'), /is not JSON$/);
      await two(verify({}, '--device-key', 'zz'), /--device-key must be an Ed25519 public key in 64 hex digits/);
      await two(verify({}, '--anchor-account', op.address), /--anchor-account needs --aptos-node URL/);
      await two(verify({}, '--anchor-account', 'operator', '--aptos-node', fx.url), /--anchor-account must be an Aptos account address/);
      await two(verify({}, '--aptos-node', 'file:///etc/passwd'), /--aptos-node must be an http\(s\) URL/);
    });
  });
});
