// Anchoring against the Aptos SIMULATOR (aptos-simulator/): the real ts-sdk builds, signs and
// submits; the simulator decodes and checks what it sent.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Account, Ed25519PrivateKey, Hex, parseTypeTag, type EntryFunctionABI } from '@aptos-labs/ts-sdk';
import { verifyRecordProof } from '../../protocol/proof.ts';
import { generateKey } from '../../protocol/signature.ts';
import { AptosSimulator } from '../aptos-simulator/simulator.ts';
import { sinkConfig } from '../config.ts';
import { Sink } from '../sink.ts';
import { getJson, makeChain, postColumnar, postJson, tempDir } from '../../test/support/sink.ts';
import { entryFunctionAbi, loadAnchorAbi } from './abi.ts';
import { aptosClient } from './aptos-client.ts';
import { AptosAnchorChain } from './aptos-chain.ts';
import { checkAnchorOnChain } from './on-chain-check.ts';
import { silentLogger } from '../../kernel/log.ts';

const BIN = fileURLToPath(new URL('../../bin/fieldproof.js', import.meta.url));
const abi = loadAnchorAbi();
const anchorsOf = (sim: AptosSimulator) => sim.transactions().filter((t) => t.functionId.endsWith('::record_root'));

describe('Aptos simulator strictness', () => {
  const sim = new AptosSimulator({ abi, moduleAddress: '0xcafe', chainId: 2 });
  const account = Account.generate();
  before(async () => {
    await sim.start();
    sim.createAccount(account.accountAddress.toString());
  });
  after(() => sim.stop());

  async function build(opts: { args?: unknown[]; fn?: string; abi?: EntryFunctionABI; seq?: number; signer?: Account } = {}) {
    const aptos = aptosClient(sim.url);
    const transaction = await aptos.transaction.build.simple({
      sender: account.accountAddress,
      data: {
        function: (opts.fn ?? '0x000000000000000000000000000000000000000000000000000000000000cafe::anchor::record_root') as `${string}::${string}::${string}`,
        functionArguments: (opts.args ?? [new Uint8Array(32).fill(9), 2, 10, 20]) as never,
        abi: opts.abi ?? entryFunctionAbi(abi),
      },
      ...(opts.seq !== undefined ? { options: { accountSequenceNumber: opts.seq } } : {}),
    });
    const senderAuthenticator = aptos.transaction.sign({ signer: opts.signer ?? account, transaction });
    return { aptos, transaction, senderAuthenticator };
  }

  async function submitRaw(bytes: Uint8Array): Promise<{ status: number; body: { message?: string } }> {
    const res = await fetch(`${sim.url}/transactions`, { method: 'POST', headers: { 'content-type': 'application/x.aptos.signed_transaction+bcs' }, body: bytes });
    return { status: res.status, body: (await res.json()) as { message?: string } };
  }

  it('accepts a well-formed record_root call and records the root', async () => {
    const { aptos, transaction, senderAuthenticator } = await build();
    const pending = await aptos.transaction.submit.simple({ transaction, senderAuthenticator });
    const done = await aptos.waitForTransaction({ transactionHash: pending.hash });
    assert.equal(done.success, true);
    assert.ok(sim.anchoredAt(account.accountAddress.toString(), '09'.repeat(32)) > 0n);
    const again = await build();
    const second = await again.aptos.transaction.submit.simple({ transaction: again.transaction, senderAuthenticator: again.senderAuthenticator });
    const failed = await again.aptos.waitForTransaction({ transactionHash: second.hash, options: { checkSuccess: false } });
    assert.equal(failed.success, false, 'the module refuses a root anchored twice');
    assert.match((failed as { vm_status: string }).vm_status, /E_ALREADY_ANCHORED/);
  });

  it('refuses a bad signature, another chain id, a wrong sequence number, a wrong key and bad arguments', async () => {
    const ok = await build({ args: [new Uint8Array(32).fill(1), 1, 1, 1] });
    const raw = Buffer.from(ok.transaction.rawTransaction.bcsToBytes());
    const auth = Buffer.from(ok.senderAuthenticator.bcsToBytes());
    // Assembled by hand so that single bytes can be changed: a single Ed25519 signer's transaction
    // authenticator has the same bytes as its account authenticator (tag 0, key, signature).
    const good = Buffer.concat([raw, auth]);
    const flipped = Buffer.from(good);
    const at = good.indexOf(Buffer.alloc(32, 1)) + 16; // inside the root argument: the signature no longer covers it
    flipped[at] = flipped[at]! ^ 0x10;
    assert.match((await submitRaw(flipped)).body.message!, /signature does not verify/);
    const otherChain = Buffer.from(good);
    otherChain[raw.length - 1] = 99;
    assert.match((await submitRaw(otherChain)).body.message!, /chain id 99/);
    assert.match((await submitRaw(good.subarray(0, good.length - 3))).body.message!, /invalid BCS/);

    const future = await build({ seq: 7 });
    const r1 = await submitRaw(Buffer.concat([Buffer.from(future.transaction.rawTransaction.bcsToBytes()), Buffer.from(future.senderAuthenticator.bcsToBytes())]));
    assert.equal(r1.status, 400);
    assert.match(r1.body.message!, /SEQUENCE_NUMBER_TOO_NEW/);

    const stranger = Account.fromPrivateKey({ privateKey: new Ed25519PrivateKey(Hex.fromHexInput(new Uint8Array(32).fill(3)).toString()) });
    const wrongKey = await build({ signer: stranger });
    const r2 = await submitRaw(Buffer.concat([Buffer.from(wrongKey.transaction.rawTransaction.bcsToBytes()), Buffer.from(wrongKey.senderAuthenticator.bcsToBytes())]));
    assert.match(r2.body.message!, /does not match the authentication key/);

    const asU64: EntryFunctionABI = { typeParameters: [], parameters: ['u64', 'u64', 'u64', 'u64'].map((t) => parseTypeTag(t)) };
    const badArgs = await build({ args: [5, 1, 1, 1], abi: asU64 });
    const r3 = await submitRaw(Buffer.concat([Buffer.from(badArgs.transaction.rawTransaction.bcsToBytes()), Buffer.from(badArgs.senderAuthenticator.bcsToBytes())]));
    assert.match(r3.body.message!, /FAILED_TO_DESERIALIZE_ARGUMENT/);

    const threeArgs: EntryFunctionABI = { typeParameters: [], parameters: ['vector<u8>', 'u64', 'u64'].map((t) => parseTypeTag(t)) };
    const fewer = await build({ args: [new Uint8Array(32), 1, 1], abi: threeArgs });
    const r4 = await submitRaw(Buffer.concat([Buffer.from(fewer.transaction.rawTransaction.bcsToBytes()), Buffer.from(fewer.senderAuthenticator.bcsToBytes())]));
    assert.match(r4.body.message!, /NUMBER_OF_ARGUMENTS_MISMATCH/);

    const unknownFn = await build({ fn: '0x000000000000000000000000000000000000000000000000000000000000cafe::anchor::erase_root' });
    const r5 = await submitRaw(Buffer.concat([Buffer.from(unknownFn.transaction.rawTransaction.bcsToBytes()), Buffer.from(unknownFn.senderAuthenticator.bcsToBytes())]));
    assert.match(r5.body.message!, /FUNCTION_RESOLUTION_FAILURE/);
    assert.ok(sim.rejected.length >= 7);
  });
});

describe('anchoring in the sink (mode: aptos, against the simulator)', () => {
  // The operator publishes the module at its own account and anchors from it.
  const account = Account.generate();
  const MODULE = `${account.accountAddress.toString()}::anchor`;
  const sim = new AptosSimulator({ abi, moduleAddress: account.accountAddress.toString(), chainId: 2, commitDelayMs: 150 });
  const keyA = generateKey();
  const keyB = generateKey();
  const tmp = tempDir();
  let sink: Sink;
  const config = () => sinkConfig({
    listen: '127.0.0.1:0', dataDir: tmp.dir,
    devices: [{ id: 'site-a', key: keyA.public }, { id: 'site-b', key: keyB.public }],
    anchor: { mode: 'aptos', intervalMs: 3_600_000, aptos: { node: sim.url, module: MODULE, waitSecs: 5 } },
  });
  const chainOf = () => new AptosAnchorChain({ node: sim.url, module: MODULE, privateKey: account.privateKey.toString(), maxGasAmount: 20_000, waitSecs: 5, abi, log: silentLogger() });

  before(async () => {
    await sim.start();
    sim.createAccount(account.accountAddress.toString());
    sink = new Sink(config(), { chain: chainOf() });
    await sink.start();
  });
  after(async () => {
    await sink.stop();
    await sim.stop();
    tmp.cleanup();
  });

  it('anchors every device\'s batches in one transaction, and proofs carry the anchor', async () => {
    for (const b of makeChain('site-a', keyA, 3, 20)) assert.equal((await postColumnar(sink.url, b)).status, 200);
    for (const b of makeChain('site-b', keyB, 2, 20)) assert.equal((await postJson(sink.url, b)).status, 200);
    const id = await sink.anchorNow();
    assert.equal(id, 1);
    const txs = anchorsOf(sim);
    assert.equal(txs.length, 1);
    assert.equal(txs[0]!.success, true);
    const anchor = (await sink.store.anchor(1))!;
    assert.equal(anchor.size, 5);
    assert.equal(anchor.state, 'committed');
    assert.equal(txs[0]!.arguments[0], `0x${anchor.root}`);
    assert.equal(txs[0]!.arguments[1], '5');

    const res = await getJson(`${sink.url}/v1/proofs/site-b/33`);
    assert.equal(res.status, 200);
    const proof = res.body as { anchor: { root: string; tx: string; module: string; version: number; chain: string; index: number; size: number } };
    assert.equal(proof.anchor.chain, 'aptos:testnet');
    assert.equal(proof.anchor.size, 5);
    const check = verifyRecordProof(proof);
    assert.equal(check.ok, true);
    assert.equal(check.anchored, true);
    const online = await checkAnchorOnChain(sim.url, proof.anchor);
    assert.deepEqual(online.map((s) => s.ok), [true, true, true], JSON.stringify(online));

    // The CLI, as a verifier would run it.
    const file = join(tmp.dir, 'proof.json');
    writeFileSync(file, JSON.stringify(proof));
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'verify', file, '--aptos-node', sim.url, '--device-key', keyB.public, '--json']);
    const out = JSON.parse(stdout) as { ok: boolean; anchored: boolean; steps: { step: string }[] };
    assert.equal(out.ok, true);
    assert.equal(out.anchored, true);
    assert.ok(out.steps.some((s) => s.step === 'anchor view'));

    // A proof pointing at another root fails on chain even if its own paths were rebuilt.
    const forged = { ...proof.anchor, root: 'ee'.repeat(32) };
    const bad = await checkAnchorOnChain(sim.url, forged);
    assert.equal(bad.every((s) => s.ok), false);
    const wrongTx = { ...proof.anchor, tx: '0x' + '12'.repeat(32) };
    assert.match((await checkAnchorOnChain(sim.url, wrongTx))[0]!.detail!, /not on this chain/);
    assert.match((await checkAnchorOnChain(sim.url, { ...proof.anchor, tx: '../../accounts/0x1' }))[0]!.detail!, /is not a transaction hash/);
    writeFileSync(file, JSON.stringify({ ...proof, anchor: wrongTx }));
    await assert.rejects(promisify(execFile)(process.execPath, [BIN, 'verify', file, '--aptos-node', sim.url]), (e: { code: number; stdout: string }) => e.code === 1 && /FAIL anchor transaction/.test(e.stdout));
  });

  it('keeps an anchor across a restart when the node failed, and sends the same transaction, not a second one', async () => {
    for (const b of makeChain('site-a', keyA, 5, 20).slice(3)) assert.equal((await postJson(sink.url, b)).status, 200);
    sim.failSubmissions(1000);
    await assert.rejects(sink.anchorNow(), /503|fail/i);
    const open = (await sink.store.openAnchor())!;
    assert.equal(open.state, 'submitted');
    assert.ok(open.tx);
    await sink.stop();

    sim.failSubmissions(0);
    sink = new Sink(config(), { chain: chainOf() });
    await sink.start();
    assert.equal(await sink.anchorNow(), open.id);
    const a = (await sink.store.anchor(open.id))!;
    assert.equal(a.state, 'committed');
    assert.equal(a.tx, open.tx, 'the transaction signed before the restart went out');
    assert.equal(a.root, open.root);
    assert.equal(anchorsOf(sim).filter((t) => t.success).length, 2);
    assert.equal(await sink.anchorNow(), null, 'nothing left to anchor');
  });
});
