// The check against the operator's account, over real HTTP against the Aptos SIMULATOR, with the
// forgeries a proof may carry: an anchor another account sent, an anchor into another account's
// copy of the module, a batch of a revoked key, a key someone else registered, a key used after
// its rotation; and every other way the chain can fail to confirm a proof.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Hex } from '@aptos-labs/ts-sdk';
import { headerHash } from '../../protocol/batch.ts';
import { endorseRotation } from '../../protocol/key-rotation.ts';
import { generateKey } from '../../protocol/signature.ts';
import { makeChain } from '../../test/support/sink.ts';
import { ChainFixture, chainOf, recordProof, type Operator } from './chain-testing.ts';
import type { DeviceKeyChain } from './device-key-chain.ts';
import { whenMs } from './device-keys.ts';
import { checkProofAgainstOperator, TrustRootError, verifyProofAgainstOperator } from './operator-check.ts';
import { anchorRoot } from './tree.ts';

const iso = (ms: number) => whenMs(BigInt(ms));

describe('a proof checked against the operator\'s account (Aptos simulator over HTTP)', () => {
  const fx = new ChainFixture();
  const op = fx.operator();
  let attacker: Operator;
  let registry: DeviceKeyChain;
  const keyA = generateKey();
  const trust = () => ({ anchorAccount: op.address, aptosNode: fx.url });
  const lastStep = async (proof: unknown) => (await verifyProofAgainstOperator(proof, trust())).steps.at(-1)!;

  before(async () => {
    await fx.start();
    attacker = fx.operator(true);
    registry = chainOf(fx, op).deviceKeys;
    await registry.register('site-a', keyA.public, 0);
  });
  after(() => fx.stop());

  it('holds for an honest proof: the operator anchored it, in its own module, and registered the key', async () => {
    const batches = makeChain('site-a', keyA, 3, 4);
    const sent = await fx.anchor(op.account, op.module, batches);
    const proof = recordProof(batches, 1, 2, { tx: sent.tx, version: sent.version, module: op.module });
    const v = await verifyProofAgainstOperator(proof, trust());
    assert.deepEqual(v.steps.map((s) => `${s.step}:${s.ok}`), [
      'batch signature:true', 'record in batch:true', 'batch in anchor:true',
      'anchor transaction:true', 'anchor sender:true', 'anchor call:true', 'anchor view:true', 'device key:true',
    ], JSON.stringify(v.steps));
    assert.deepEqual({ ok: v.ok, trusted: v.trusted, anchored: v.anchored }, { ok: true, trusted: true, anchored: true });
    assert.equal(v.steps.at(-1)!.detail, `key ${keyA.public} of device site-a, registered by ${op.address} (from ${iso(0)}), counts for a batch created at ${iso(batches[1]!.header.created)}`);

    // The address may be given in any form the chain accepts; the module is the operator's, not the proof's.
    const short = op.address.replace(/^0x0+/, '0x');
    assert.equal((await verifyProofAgainstOperator(proof, { anchorAccount: short, aptosNode: fx.url })).ok, true);
    const unanchored = recordProof(batches, 2, 0);
    const u = await verifyProofAgainstOperator(unanchored, trust());
    assert.deepEqual({ ok: u.ok, trusted: u.trusted, anchored: u.anchored, steps: u.steps.map((s) => s.step) },
      { ok: true, trusted: true, anchored: false, steps: ['batch signature', 'record in batch', 'device key'] });
  });

  it('refuses an anchor that another account sent, even into the operator\'s module', async () => {
    const batches = makeChain('site-a', keyA, 2, 3);
    const sent = await fx.anchor(attacker.account, op.module, batches);
    assert.equal(sent.success, true, 'anyone may call record_root: it records into the caller\'s own table');
    const proof = recordProof(batches, 0, 1, { tx: sent.tx, version: sent.version, module: op.module });
    assert.deepEqual(await lastStep(proof), { step: 'anchor sender', ok: false, detail: `the anchor transaction was sent by ${attacker.address}, not by the operator ${op.address}` });
  });

  it('refuses an anchor into another account\'s copy of the module, whatever the proof says the module is', async () => {
    const batches = makeChain('site-a', keyA, 2, 5);
    const sent = await fx.anchor(op.account, attacker.module, batches);
    assert.equal(sent.success, true);
    const expected = { step: 'anchor call', ok: false, detail: `the transaction called ${attacker.module}::record_root, not the operator's ${op.module}::record_root` };
    assert.deepEqual(await lastStep(recordProof(batches, 1, 0, { tx: sent.tx, version: sent.version, module: attacker.module })), expected);
    assert.deepEqual(await lastStep(recordProof(batches, 1, 0, { tx: sent.tx, version: sent.version, module: op.module })), expected);

    // A proof that is right about the transaction but names another module is refused too.
    const honest = await fx.anchor(op.account, op.module, batches);
    assert.deepEqual(await lastStep(recordProof(batches, 1, 0, { tx: honest.tx, version: honest.version, module: attacker.module })),
      { step: 'anchor call', ok: false, detail: `the proof names the module ${attacker.module}, not the operator's ${op.module}` });

    // Everything the attacker's own: it holds against the attacker's account, and against nobody else's.
    const stolenName = generateKey();
    await fx.send(attacker.account, attacker.module, 'register_device_key', ['site-a', Hex.fromHexInput(stolenName.public).toUint8Array(), 0]);
    const forged = makeChain('site-a', stolenName, 1, 3);
    const own = await fx.anchor(attacker.account, attacker.module, forged);
    const forgedProof = recordProof(forged, 0, 0, { tx: own.tx, version: own.version, module: attacker.module });
    assert.equal((await verifyProofAgainstOperator(forgedProof, { anchorAccount: attacker.address, aptosNode: fx.url })).trusted, true);
    assert.deepEqual(await lastStep(forgedProof), { step: 'anchor sender', ok: false, detail: `the anchor transaction was sent by ${attacker.address}, not by the operator ${op.address}` });
  });

  it('refuses a batch of a revoked key created from the revocation time on, and one anchored after the revocation', async () => {
    const keyR = generateKey();
    await registry.register('site-r', keyR.public, 0);
    const batches = makeChain('site-r', keyR, 3, 2);
    const sent = await fx.anchor(op.account, op.module, batches);
    const revokedFrom = batches[1]!.header.created;
    await registry.revoke('site-r', keyR.public, revokedFrom);
    const anchored = { tx: sent.tx, version: sent.version, module: op.module };
    assert.equal((await verifyProofAgainstOperator(recordProof(batches, 0, 1, anchored), trust())).ok, true, 'created before the revocation time, anchored before the revocation');
    assert.deepEqual(await lastStep(recordProof(batches, 1, 0, anchored)),
      { step: 'device key', ok: false, detail: `key ${keyR.public} of device site-r is revoked from ${iso(revokedFrom)}; the batch was created after, at ${iso(revokedFrom)}` });

    // Created before the revocation time, but anchored only after the revocation was recorded:
    // exactly what a thief holding the key could produce.
    const keyS = generateKey();
    await registry.register('site-s', keyS.public, 0);
    const late = makeChain('site-s', keyS, 1, 2);
    await registry.revoke('site-s', keyS.public, late[0]!.header.created + 60_000);
    const revokedAtUs = fx.sim.deviceKeys(op.address, 'site-s')[0]!.revokedAtUs;
    const lateSent = await fx.anchor(op.account, op.module, late);
    const anchoredAtUs = fx.sim.anchoredAt(op.address, anchorRoot([headerHash(late[0]!.header)]));
    assert.deepEqual(await lastStep(recordProof(late, 0, 0, { tx: lateSent.tx, version: lateSent.version, module: op.module })), {
      step: 'device key', ok: false,
      detail: `key ${keyS.public} of device site-s was revoked on chain at ${whenMs(revokedAtUs / 1000n)}, before the batch was anchored (${whenMs(anchoredAtUs / 1000n)}): a batch of a revoked key counts only if it was anchored before the revocation`,
    });
    assert.equal((await lastStep(recordProof(late, 0, 0))).ok, false, 'unanchored, it cannot show it came before the revocation either');
  });

  it('refuses a key that someone else registered for the device', async () => {
    const theirs = generateKey();
    await fx.send(attacker.account, op.module, 'register_device_key', ['site-x', Hex.fromHexInput(theirs.public).toUint8Array(), 0]);
    assert.deepEqual(await lastStep(recordProof(makeChain('site-x', theirs, 1, 2), 0, 0)),
      { step: 'device key', ok: false, detail: `${op.address} registered no key for device site-x` });
    await fx.send(attacker.account, op.module, 'register_device_key', ['site-a', Hex.fromHexInput(theirs.public).toUint8Array(), 0]);
    assert.deepEqual(await lastStep(recordProof(makeChain('site-a', theirs, 1, 2), 0, 0)),
      { step: 'device key', ok: false, detail: `key ${theirs.public} is not a key ${op.address} registered for device site-a` });
  });

  it('refuses a rotated-out key for batches created after the rotation, and takes its successor', async () => {
    const k1 = generateKey();
    const k2 = generateKey();
    await registry.register('site-t', k1.public, 0);
    const old = makeChain('site-t', k1, 3, 2);
    const from = old[1]!.header.created + 1;
    await registry.rotate('site-t', k2.public, from, endorseRotation(k1, { operator: op.address, device: 'site-t', newKey: k2.public, validFromMs: from }));
    assert.equal((await lastStep(recordProof(old, 1, 0))).ok, true, 'created before the rotation');
    assert.deepEqual(await lastStep(recordProof(old, 2, 0)),
      { step: 'device key', ok: false, detail: `key ${k1.public} of device site-t was rotated out from ${iso(from)}; the batch was created after, at ${iso(old[2]!.header.created)}` });
    assert.equal((await lastStep(recordProof(makeChain('site-t', k2, 3, 2), 2, 0))).ok, true);
    assert.deepEqual((await lastStep(recordProof(makeChain('site-t', k2, 1, 2), 0, 0))),
      { step: 'device key', ok: false, detail: `key ${k2.public} of device site-t counts from ${iso(from)}; the batch was created before, at ${iso(old[0]!.header.created)}` });
  });

  it('says exactly why the chain does not confirm an anchor', async () => {
    const batches = makeChain('site-a', keyA, 3, 7);
    const sent = await fx.anchor(op.account, op.module, batches);
    const good = { tx: sent.tx, version: sent.version, module: op.module };
    const check = async (anchor: { tx: string; version: number; module: string }, node = fx.url) =>
      (await checkProofAgainstOperator(recordProof(batches, 0, 0, anchor), { anchorAccount: op.address, aptosNode: node })).at(-1)!;

    assert.deepEqual(await check({ ...good, tx: '0x' + '12'.repeat(32) }), { step: 'anchor transaction', ok: false, detail: `transaction 0x${'12'.repeat(32)} is not on the chain of ${fx.url}` });
    assert.deepEqual(await check({ ...good, tx: '../accounts/0x1' }), { step: 'anchor transaction', ok: false, detail: 'anchor.tx "../accounts/0x1" is not a transaction hash (0x and 64 lowercase hex digits)' });
    assert.deepEqual(await check({ ...good, version: sent.version + 1 }), { step: 'anchor transaction', ok: false, detail: `transaction ${sent.tx} committed at version ${sent.version}, not at ${sent.version + 1} as the proof says` });
    const again = await fx.anchor(op.account, op.module, batches);
    assert.equal(again.success, false);
    assert.deepEqual(await check({ ...good, tx: again.tx, version: again.version }), { step: 'anchor transaction', ok: false, detail: `transaction ${again.tx} failed on chain: ${again.vmStatus}` });
    assert.match(again.vmStatus, /E_ALREADY_ANCHORED\(0x80002\)/);

    const other = makeChain('site-a', keyA, 2, 9);
    const otherSent = await fx.anchor(op.account, op.module, other);
    const otherRoot = anchorRoot(other.map((b) => headerHash(b.header)));
    assert.deepEqual(await check({ ...good, tx: otherSent.tx, version: otherSent.version }),
      { step: 'anchor call', ok: false, detail: `the transaction recorded root 0x${otherRoot}, not the proof's ${anchorRoot(batches.map((b) => headerHash(b.header)))}` });

    const wrongCount = makeChain('site-a', keyA, 2, 11);
    const root2 = anchorRoot(wrongCount.map((b) => headerHash(b.header)));
    const sized = await fx.send(op.account, op.module, 'record_root', [Hex.fromHexInput(root2).toUint8Array(), 3, 1, 2]);
    assert.deepEqual((await checkProofAgainstOperator(recordProof(wrongCount, 0, 0, { tx: sized.tx, version: sized.version, module: op.module }), trust())).at(-1),
      { step: 'anchor call', ok: false, detail: 'the transaction recorded 3 batch headers, the proof\'s anchor tree has 2' });

    const down = await check(good, 'http://127.0.0.1:1/v1');
    assert.equal(down.step, 'anchor transaction');
    assert.match(down.detail!, /^cannot ask http:\/\/127\.0\.0\.1:1\/v1: /);
    await assert.rejects(checkProofAgainstOperator(recordProof(batches, 0, 0), { anchorAccount: 'operator', aptosNode: fx.url }), TrustRootError);
  });
});
