// Forged record proofs that an offline check must refuse, each with the step and the exact reason
// `fieldproof verify` gives (app/cli/verify-forgeries.test.ts runs the same kinds through the CLI):
// a key of the forger's own, another device's key, and every tampering of an honest proof; and
// the forgeries only the chain can refuse, checked against the operator's account.
import type { RecordProof } from '../../protocol/proof.ts';
import type { DeviceKey } from '../../protocol/signature.ts';
import { generateKey } from '../../protocol/signature.ts';
import { recordProof, type ChainFixture, type Operator } from '../../cloud-sink/anchor/chain-testing.ts';
import { whenMs } from '../../cloud-sink/anchor/device-keys.ts';
import { makeChain } from './sink.ts';

export interface Forgery {
  name: string;
  proof: unknown;
  /** the device key the verifier is given */
  key: string;
  step: string;
  detail: string;
}

const MODULE = `0x${'ca'.repeat(32)}::anchor`;

/** Forgeries against device `site-b` whose real key is `keyB`; `keyA` is another device's. */
export function offlineForgeries(keyA: DeviceKey, keyB: DeviceKey): Forgery[] {
  const forger = generateKey();
  const honest = recordProof(makeChain('site-b', keyB, 3, 5), 1, 2, { tx: '0x' + '12'.repeat(32), version: 5, module: MODULE });
  const changed = (f: (p: RecordProof & Record<string, unknown>) => void): RecordProof => {
    const p = structuredClone(honest) as RecordProof & Record<string, unknown>;
    f(p);
    return p;
  };
  const pruned = makeChain('site-b', keyB, 2, 4)[1]!;
  const madeUp = { record: { ...pruned.records[1]!, value: 999 }, index: 1, path: ['00'.repeat(32), '11'.repeat(32)], header: pruned.header };
  const b = keyB.public;
  const noRoot = 'the record and path do not lead to header.root';
  const badSig = (k: string) => `the header signature does not verify with header.key ${k}`;
  return [
    { name: 'a reading made up, signed with a fresh key, under a made-up anchor', proof: recordProof(makeChain('site-b', forger, 2, 3), 1, 2, { tx: '0x' + '5a'.repeat(32), version: 77, module: MODULE }),
      key: b, step: 'given key', detail: `the batch was signed by ${forger.public}, not by the device key given (${b})` },
    { name: 'a record under this device\'s name signed with another device\'s key', proof: recordProof(makeChain('site-b', keyA, 1, 4), 0, 1),
      key: b, step: 'given key', detail: `the batch was signed by ${keyA.public}, not by the device key given (${b})` },
    { name: 'the record\'s value', proof: changed((p) => ((p.record as { value: number }).value += 0.01)), key: b, step: 'record in batch', detail: noRoot },
    { name: 'the record\'s time', proof: changed((p) => ((p.record as { ts: number }).ts += 1)), key: b, step: 'record in batch', detail: noRoot },
    { name: 'the record\'s seq', proof: changed((p) => (p.record.seq += 1)), key: b, step: 'record', detail: `index 2 does not match seq ${honest.record.seq + 1}` },
    { name: 'the record\'s device', proof: changed((p) => ((p.record as { device: string }).device = 'site-a')), key: b, step: 'record', detail: 'record device site-a is not the header\'s site-b' },
    { name: 'the record\'s path', proof: changed((p) => (p.path[0] = 'ab'.repeat(32))), key: b, step: 'record in batch', detail: noRoot },
    { name: 'a path cut short', proof: changed((p) => p.path.pop()), key: b, step: 'record in batch', detail: noRoot },
    { name: 'a path too long', proof: changed((p) => (p.path = Array(65).fill('ab'.repeat(32)))), key: b, step: 'record', detail: 'path must be a list of at most 64 64-digit hex hashes' },
    { name: 'the anchor path', proof: changed((p) => (p.anchor!.path[0] = 'cd'.repeat(32))), key: b, step: 'batch in anchor', detail: 'the header hash and anchor path do not lead to anchor.root' },
    { name: 'the anchor index', proof: changed((p) => (p.anchor!.index = 0)), key: b, step: 'batch in anchor', detail: 'the header hash and anchor path do not lead to anchor.root' },
    { name: 'the anchor transaction', proof: changed((p) => (p.anchor!.tx = '../accounts/0x1')), key: b, step: 'anchor', detail: 'anchor.tx must be 0x and 64 lowercase hex digits' },
    { name: 'the header\'s time', proof: changed((p) => (p.header.created += 1)), key: b, step: 'batch signature', detail: badSig(b) },
    { name: 'the signature', proof: changed((p) => (p.header.sig = p.header.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')))), key: b, step: 'batch signature', detail: badSig(b) },
    { name: 'the header\'s key', proof: changed((p) => (p.header.key = keyA.public)), key: b, step: 'batch signature', detail: badSig(keyA.public) },
    { name: 'a field added to the header', proof: changed((p) => ((p.header as unknown as Record<string, unknown>).extra = 1)), key: b, step: 'header', detail: 'header has an unknown field extra' },
    { name: 'a record claimed for a pruned batch', proof: madeUp, key: b, step: 'record in batch', detail: noRoot },
    // `pruned` is a drop proof's field now, so a made-up record under it still fails at its path
    { name: 'a pruned flag', proof: { ...madeUp, pruned: true }, key: b, step: 'record in batch', detail: noRoot },
  ];
}

/** A proof consistent offline that the operator's account must refuse, and the account the verifier is given. */
export interface ChainForgery {
  name: string;
  proof: RecordProof;
  /** the operator's account the verifier is given */
  account: string;
  step: string;
  detail: string;
}

let fresh = 0;

/**
 * Forgeries against `honest`, a proof that `op` anchored, of a device whose key `signer` `op`
 * registered: sent through `fx`'s simulator as the attacker (an account with its own copy of the
 * module) or as the operator where only the chain's record tells them apart. `node` is the URL
 * the verifier is given.
 */
export async function chainForgeries(fx: ChainFixture, op: Operator, attacker: Operator, honest: RecordProof, signer: DeviceKey, node: string): Promise<ChainForgery[]> {
  const device = honest.header.device;
  // Batches of the device's real key no anchor has recorded yet: each forgery its own root.
  const batches = () => makeChain(device, signer, 2, 3, { start: 1_700_000_000_000 + ++fresh * 3_600_000 });
  const anchorAs = async (by: Operator, module: string) => {
    const chain = batches();
    const sent = await fx.anchor(by.account, module, chain);
    return recordProof(chain, 1, 0, { tx: sent.tx, version: sent.version, module });
  };
  const tamper = (f: (p: RecordProof) => void): RecordProof => {
    const p = structuredClone(honest);
    f(p);
    return p;
  };
  const a = honest.anchor!;
  const stranger = generateKey();
  const strangers = makeChain(device, stranger, 1, 2);
  const strangerSent = await fx.anchor(op.account, op.module, strangers);
  const other = await anchorAs(op, op.module);
  // The operator upgrades its module (its package is "compatible") to date one anchor a year earlier.
  const backdated = await anchorAs(op, op.module);
  const committedUs = fx.sim.transactions().find((t) => t.hash === backdated.anchor!.tx)!.timestampUs;
  const yearEarlierUs = committedUs - 365n * 24n * 3_600_000_000n;
  fx.sim.upgradeView(op.address, 'anchored_at', (args) => [String(args[1]).slice(2) === backdated.anchor!.root ? yearEarlierUs.toString() : fx.sim.anchoredAt(String(args[0]), String(args[1]), op.address).toString()]);
  return [
    { name: 'the auditor gives another account', proof: honest, account: attacker.address, step: 'anchor sender', detail: `the anchor transaction was sent by ${op.address}, not by the operator ${attacker.address}` },
    { name: 'an anchor another account sent into the operator\'s module', proof: await anchorAs(attacker, op.module), account: op.address,
      step: 'anchor sender', detail: `the anchor transaction was sent by ${attacker.address}, not by the operator ${op.address}` },
    { name: 'the proof names another sender', proof: tamper((p) => (p.anchor!.sender = attacker.address)), account: op.address,
      step: 'anchor sender', detail: `the proof names the sender ${attacker.address}, but the operator ${op.address} sent the transaction` },
    { name: 'an anchor into another account\'s copy of the module', proof: await anchorAs(op, attacker.module), account: op.address,
      step: 'anchor call', detail: `the transaction called ${attacker.module}::record_root, not the operator's ${op.module}::record_root` },
    { name: 'the module address swapped', proof: tamper((p) => (p.anchor!.module = attacker.module)), account: op.address,
      step: 'anchor call', detail: `the proof names the module ${attacker.module}, not the operator's ${op.module}` },
    { name: 'the transaction of another anchor', proof: tamper((p) => Object.assign(p.anchor!, { tx: other.anchor!.tx, version: other.anchor!.version })), account: op.address,
      step: 'anchor call', detail: `the transaction recorded root 0x${other.anchor!.root}, not the proof's ${a.root}` },
    { name: 'another ledger version', proof: tamper((p) => (p.anchor!.version += 1)), account: op.address,
      step: 'anchor transaction', detail: `transaction ${a.tx} committed at version ${a.version}, not at ${a.version + 1} as the proof says` },
    { name: 'an anchor the proof says is on mainnet, checked at a node of testnet', proof: tamper((p) => (p.anchor!.chain = 'aptos:mainnet')), account: op.address,
      step: 'anchor transaction', detail: `the node at ${node} serves aptos:testnet, not aptos:mainnet, the chain the proof's anchor names` },
    { name: 'the operator\'s upgraded module dates the anchor a year before its transaction', proof: backdated, account: op.address, step: 'anchor view',
      detail: `anchored_at(${op.address}, root) says ${whenMs(yearEarlierUs / 1000n)}, but the transaction that recorded the root committed at ${whenMs(committedUs / 1000n)}: the module does not keep the chain's time` },
    { name: 'a transaction the chain does not hold', proof: tamper((p) => (p.anchor!.tx = '0x' + '12'.repeat(32))), account: op.address,
      step: 'anchor transaction', detail: `transaction 0x${'12'.repeat(32)} is not on the chain of ${node}` },
    { name: 'a batch of a key the operator never registered, anchored by the operator', account: op.address,
      proof: recordProof(strangers, 0, 0, { tx: strangerSent.tx, version: strangerSent.version, module: op.module }),
      step: 'device key', detail: `key ${stranger.public} is not a key ${op.address} registered for device ${device}` },
  ];
}
