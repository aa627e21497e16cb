// For the tests: an Aptos simulator with operators that publish the anchor module at their own
// accounts, transactions sent as any account to any module (as an attacker would), and record
// proofs built from batches with the protocol's own functions, so that a test can forge any part.
import { Account, Ed25519Account, Hex, type SimpleEntryFunctionArgumentTypes, type UserTransactionResponse } from '@aptos-labs/ts-sdk';
import { headerHash, type Batch } from '../../protocol/batch.ts';
import { canonicalize } from '../../protocol/canonical.ts';
import { inclusionPath, leafHash } from '../../protocol/merkle.ts';
import type { RecordProof } from '../../protocol/proof.ts';
import { silentLogger } from '../../kernel/log.ts';
import { AptosSimulator } from '../aptos-simulator/simulator.ts';
import { entryFunctionAbi, loadAnchorAbi } from './abi.ts';
import { aptosClient } from './aptos-client.ts';
import { AptosAnchorChain } from './aptos-chain.ts';
import { anchorLeaves, anchorPath, anchorRoot } from './tree.ts';

export const abi = loadAnchorAbi();

export interface Operator {
  account: Ed25519Account;
  /** long form */
  address: string;
  /** `<address>::anchor` */
  module: string;
}

export interface Sent {
  tx: string;
  version: number;
  success: boolean;
  vmStatus: string;
}

export class ChainFixture {
  readonly sim: AptosSimulator;
  private readonly first: Operator;

  constructor(opts: { commitDelayMs?: number } = {}) {
    const account = Account.generate();
    this.sim = new AptosSimulator({ abi, moduleAddress: account.accountAddress.toString(), chainId: 2, commitDelayMs: opts.commitDelayMs });
    this.first = this.describe(account);
  }

  async start(): Promise<void> {
    await this.sim.start();
    this.sim.createAccount(this.first.address);
  }

  stop(): Promise<void> {
    return this.sim.stop();
  }

  get url(): string {
    return this.sim.url;
  }

  /** The first operator (created with the simulator), or a new one that publishes its own copy of the module. */
  operator(fresh = false): Operator {
    if (!fresh) return this.first;
    const op = this.describe(Account.generate());
    this.sim.createAccount(op.address);
    this.sim.publishModule(op.address);
    return op;
  }

  private describe(account: Ed25519Account): Operator {
    const address = account.accountAddress.toString();
    return { account, address, module: `${address}::anchor` };
  }

  /** Sign and send `<module>::<name>(args)` as `signer`, whatever module; wait for the commit. */
  async send(signer: Account, module: string, name: string, args: SimpleEntryFunctionArgumentTypes[]): Promise<Sent> {
    const aptos = aptosClient(this.sim.url);
    const transaction = await aptos.transaction.build.simple({
      sender: signer.accountAddress,
      data: { function: `${module}::${name}` as `${string}::${string}::${string}`, functionArguments: args, abi: entryFunctionAbi(abi, name) },
    });
    const pending = await aptos.transaction.submit.simple({ transaction, senderAuthenticator: aptos.transaction.sign({ signer, transaction }) });
    const done = (await aptos.waitForTransaction({ transactionHash: pending.hash, options: { checkSuccess: false } })) as UserTransactionResponse;
    return { tx: done.hash, version: Number(done.version), success: done.success, vmStatus: done.vm_status };
  }

  /** record_root of an anchor over `batches`' headers, sent as `signer` to `module`. */
  anchor(signer: Account, module: string, batches: readonly Batch[]): Promise<Sent> {
    const hashes = batches.map((b) => headerHash(b.header));
    const created = batches.map((b) => b.header.created);
    return this.send(signer, module, 'record_root', [Hex.fromHexInput(anchorRoot(hashes)).toUint8Array(), hashes.length, Math.min(...created), Math.max(...created)]);
  }
}

/** An operator's AptosAnchorChain against this fixture's simulator (the node URL is known once it listens). */
export function chainOf(fx: ChainFixture, op: Operator): AptosAnchorChain {
  return new AptosAnchorChain({ node: fx.url, module: op.module, privateKey: op.account.privateKey.toString(), maxGasAmount: 20_000, waitSecs: 5, abi, log: silentLogger() });
}

/**
 * The proof of record `recordIndex` of `batches[batchIndex]`; with `anchor`, its place in an
 * anchor tree over all of `batches`' headers, recorded by `anchor.tx`.
 */
export function recordProof(batches: readonly Batch[], batchIndex: number, recordIndex: number, anchor?: { tx: string; version: number; module: string }): RecordProof {
  const batch = batches[batchIndex]!;
  const leaves = batch.records.map((r) => leafHash(canonicalize(r)));
  const proof: RecordProof = {
    record: batch.records[recordIndex]!, index: recordIndex, path: inclusionPath(leaves, recordIndex).map((b) => b.toString('hex')), header: batch.header,
  };
  if (anchor) {
    const hashes = batches.map((b) => headerHash(b.header));
    proof.anchor = {
      root: anchorRoot(hashes), index: batchIndex, size: hashes.length, path: anchorPath(anchorLeaves(hashes), batchIndex),
      chain: 'aptos:testnet', tx: anchor.tx, version: anchor.version, module: anchor.module,
    };
  }
  return proof;
}
