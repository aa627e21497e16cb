// Recording anchor roots on Aptos: build the record_root call against the ABI in move/, sign it as
// the operator's account, keep the signed transaction in the store before sending it (so that a
// sink killed mid-submission resends the same transaction, never a second one), submit, and wait
// for the commit. The same account keeps the device key registry (deviceKeys).
import { readFileSync } from 'node:fs';
import { AccountAuthenticator, Deserializer, Hex, SimpleTransaction, type MoveModule } from '@aptos-labs/ts-sdk';
import type { Logger } from 'pino';
import type { AnchorRow, AnchorDetail } from '../store/types.ts';
import { RECORD_ROOT } from './abi.ts';
import { AptosDeviceKeyChain, type DeviceKeyChain } from './device-key-chain.ts';
import { AptosOperatorAccount } from './aptos-operator.ts';

export { longModuleId } from './aptos-operator.ts';

export interface AnchorChainResult {
  chain: string;
  module: string;
  sender: string;
  tx: string;
  version: number;
}

/** Where anchors go. Aptos is the one implementation; the interface keeps the anchorer testable on its own. */
export interface AnchorChain {
  record(anchor: AnchorRow, save: (patch: Partial<AnchorRow>) => Promise<void>): Promise<AnchorChainResult>;
  /** the operator's device key registry on the same chain, when the chain keeps one */
  readonly deviceKeys?: DeviceKeyChain;
}

export interface AptosChainOptions {
  node: string;
  /** `<operator address>::anchor`: the sink signs as the account at this address */
  module: string;
  privateKey: string;
  chain?: string;
  maxGasAmount: number;
  waitSecs: number;
  abi: MoveModule;
  log: Logger;
  /** see AptosOperatorOptions: the account's transactions one at a time across sink processes */
  acrossProcesses?: <T>(fn: () => Promise<T>) => Promise<T>;
}

export function readPrivateKey(file: string | undefined): string {
  const fromEnv = process.env.FIELDPROOF_APTOS_PRIVATE_KEY;
  if (fromEnv) return fromEnv.trim();
  if (!file) throw new Error('anchor.aptos needs privateKeyFile (or FIELDPROOF_APTOS_PRIVATE_KEY)');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`cannot read the Aptos private key ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

export function chainLabel(chainId: number): string {
  return chainId === 1 ? 'aptos:mainnet' : chainId === 2 ? 'aptos:testnet' : `aptos:${chainId}`;
}

/** The chain id a label of chainLabel names; null for another name (a sink may be configured with any). */
export function chainIdOfLabel(label: string): number | null {
  if (label === 'aptos:mainnet') return 1;
  if (label === 'aptos:testnet') return 2;
  const id = /^aptos:([1-9][0-9]{0,2})$/.exec(label)?.[1];
  return id === undefined ? null : Number(id);
}

export class AptosAnchorChain implements AnchorChain {
  private readonly operator: AptosOperatorAccount;
  readonly deviceKeys: DeviceKeyChain;
  private label: string | null;

  private readonly opts: AptosChainOptions;

  constructor(opts: AptosChainOptions) {
    this.opts = opts;
    this.operator = new AptosOperatorAccount(opts);
    this.deviceKeys = new AptosDeviceKeyChain(this.operator);
    this.label = opts.chain ?? null;
  }

  get sender(): string {
    return this.operator.address;
  }

  private async chain(): Promise<string> {
    this.label ??= chainLabel((await this.operator.aptos.getLedgerInfo()).chain_id);
    return this.label;
  }

  record(anchor: AnchorRow, save: (patch: Partial<AnchorRow>) => Promise<void>): Promise<AnchorChainResult> {
    return this.operator.exclusive(() => this.recordInTurn(anchor, save));
  }

  private async recordInTurn(anchor: AnchorRow, save: (patch: Partial<AnchorRow>) => Promise<void>): Promise<AnchorChainResult> {
    const op = this.operator;
    const chain = await this.chain();
    const base = { chain, module: op.module, sender: op.address };
    let detail: AnchorDetail = anchor.detail ?? {};
    let hash = anchor.tx;

    if (anchor.state === 'submitted' && hash && detail.transactionHex && detail.authenticatorHex) {
      // A transaction was signed (and maybe sent) before: find out what became of it.
      const seen = await op.lookup(hash);
      if (seen === 'committed') return { ...base, tx: hash, version: await op.versionOf(hash) };
      const expired = (detail.expiresAtSecs ?? 0) <= Date.now() / 1000;
      if (seen === 'unknown' && !expired) {
        this.opts.log.info({ anchor: anchor.id, tx: hash }, 'resending the signed anchor transaction');
        await this.send(detail);
        return { ...base, tx: hash, version: await this.wait(hash) };
      }
      // Failed on chain, or expired unseen: sign a new one below.
      this.opts.log.warn({ anchor: anchor.id, tx: hash, seen }, 'earlier anchor transaction did not commit; signing a new one');
    }

    const signed = await op.sign(RECORD_ROOT, [Hex.fromHexInput(anchor.root).toUint8Array(), anchor.size, anchor.firstTs, anchor.lastTs]);
    hash = signed.hash;
    detail = {
      ...detail,
      transactionHex: Hex.fromHexInput(signed.transaction.bcsToBytes()).toStringWithoutPrefix(),
      authenticatorHex: Hex.fromHexInput(signed.senderAuthenticator.bcsToBytes()).toStringWithoutPrefix(),
      expiresAtSecs: Number(signed.transaction.rawTransaction.expiration_timestamp_secs),
      sequenceNumber: signed.transaction.rawTransaction.sequence_number.toString(),
      attempts: (detail.attempts ?? 0) + 1,
    };
    await save({ state: 'submitted', tx: hash, detail, ...base });
    await this.send(detail);
    this.opts.log.info({ anchor: anchor.id, tx: hash, root: anchor.root, batches: anchor.size }, 'anchor transaction submitted');
    return { ...base, tx: hash, version: await this.wait(hash) };
  }

  private async send(detail: AnchorDetail): Promise<void> {
    const transaction = SimpleTransaction.deserialize(new Deserializer(Hex.fromHexInput(detail.transactionHex!).toUint8Array()));
    const senderAuthenticator = AccountAuthenticator.deserialize(new Deserializer(Hex.fromHexInput(detail.authenticatorHex!).toUint8Array()));
    await this.operator.send(transaction, senderAuthenticator);
  }

  private async wait(hash: string): Promise<number> {
    const tx = await this.operator.wait(hash);
    if (!tx.success) throw new Error(`anchor transaction ${hash} failed on chain: ${tx.vm_status}`);
    return Number(tx.version);
  }
}
