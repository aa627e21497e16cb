// Recording anchor roots on Aptos with @aptos-labs/ts-sdk: build the entry function call against
// the ABI in move/, sign it, keep the signed transaction in the store before sending it (so that a
// sink killed mid-submission resends the same transaction, never a second one), submit, and wait
// for the commit.
import { readFileSync } from 'node:fs';
import {
  Account, AccountAuthenticator, AccountAddress, Aptos, AptosApiError, Deserializer, Ed25519PrivateKey,
  Hex, SimpleTransaction, generateUserTransactionHash, type MoveModule, type UserTransactionResponse,
} from '@aptos-labs/ts-sdk';
import type { Logger } from 'pino';
import type { AnchorRow, AnchorDetail } from '../store/types.ts';
import { entryFunctionAbi, RECORD_ROOT } from './abi.ts';
import { aptosClient } from './aptos-client.ts';

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
}

export interface AptosChainOptions {
  node: string;
  module: string;
  privateKey: string;
  chain?: string;
  maxGasAmount: number;
  waitSecs: number;
  abi: MoveModule;
  log: Logger;
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

export class AptosAnchorChain implements AnchorChain {
  private readonly aptos: Aptos;
  private readonly account: Account;
  private label: string | null;
  /** `<long address>::anchor`: the SDK wants addresses in full */
  private readonly module: string;

  private readonly opts: AptosChainOptions;

  constructor(opts: AptosChainOptions) {
    this.opts = opts;
    this.aptos = aptosClient(opts.node);
    this.account = Account.fromPrivateKey({ privateKey: new Ed25519PrivateKey(opts.privateKey, false) });
    this.label = opts.chain ?? null;
    this.module = longModuleId(opts.module);
  }

  get sender(): string {
    return this.account.accountAddress.toString();
  }

  private async chain(): Promise<string> {
    this.label ??= chainLabel((await this.aptos.getLedgerInfo()).chain_id);
    return this.label;
  }

  async record(anchor: AnchorRow, save: (patch: Partial<AnchorRow>) => Promise<void>): Promise<AnchorChainResult> {
    const chain = await this.chain();
    const base = { chain, module: this.module, sender: this.sender };
    let detail: AnchorDetail = anchor.detail ?? {};
    let hash = anchor.tx;

    if (anchor.state === 'submitted' && hash && detail.transactionHex && detail.authenticatorHex) {
      // A transaction was signed (and maybe sent) before: find out what became of it.
      const seen = await this.lookup(hash);
      if (seen === 'committed') return { ...base, tx: hash, version: await this.versionOf(hash) };
      const expired = (detail.expiresAtSecs ?? 0) <= Date.now() / 1000;
      if (seen === 'unknown' && !expired) {
        this.opts.log.info({ anchor: anchor.id, tx: hash }, 'resending the signed anchor transaction');
        await this.send(detail);
        return { ...base, tx: hash, version: await this.wait(hash) };
      }
      // Failed on chain, or expired unseen: sign a new one below.
      this.opts.log.warn({ anchor: anchor.id, tx: hash, seen }, 'earlier anchor transaction did not commit; signing a new one');
    }

    const transaction = await this.aptos.transaction.build.simple({
      sender: this.account.accountAddress,
      data: {
        function: `${this.module}::${RECORD_ROOT}` as `${string}::${string}::${string}`,
        functionArguments: [Hex.fromHexInput(anchor.root).toUint8Array(), anchor.size, anchor.firstTs, anchor.lastTs],
        abi: entryFunctionAbi(this.opts.abi),
      },
      options: { maxGasAmount: this.opts.maxGasAmount },
    });
    const senderAuthenticator = this.aptos.transaction.sign({ signer: this.account, transaction });
    hash = generateUserTransactionHash({ transaction, senderAuthenticator });
    detail = {
      ...detail,
      transactionHex: Hex.fromHexInput(transaction.bcsToBytes()).toStringWithoutPrefix(),
      authenticatorHex: Hex.fromHexInput(senderAuthenticator.bcsToBytes()).toStringWithoutPrefix(),
      expiresAtSecs: Number(transaction.rawTransaction.expiration_timestamp_secs),
      sequenceNumber: transaction.rawTransaction.sequence_number.toString(),
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
    await this.aptos.transaction.submit.simple({ transaction, senderAuthenticator });
  }

  private async wait(hash: string): Promise<number> {
    const tx = (await this.aptos.waitForTransaction({ transactionHash: hash, options: { timeoutSecs: this.opts.waitSecs, checkSuccess: false } })) as UserTransactionResponse;
    if (!tx.success) throw new Error(`anchor transaction ${hash} failed on chain: ${tx.vm_status}`);
    return Number(tx.version);
  }

  private async lookup(hash: string): Promise<'committed' | 'failed' | 'pending' | 'unknown'> {
    try {
      const tx = await this.aptos.getTransactionByHash({ transactionHash: hash });
      if (tx.type === 'pending_transaction') return 'pending';
      return (tx as UserTransactionResponse).success ? 'committed' : 'failed';
    } catch (err) {
      if (err instanceof AptosApiError && err.status === 404) return 'unknown';
      throw err;
    }
  }

  private async versionOf(hash: string): Promise<number> {
    return Number((await this.aptos.getTransactionByHash({ transactionHash: hash }) as UserTransactionResponse).version);
  }
}

/** `0xcafe::anchor` -> the module id with the address in Aptos's canonical form. */
export function longModuleId(module: string): string {
  const [addr, name] = module.split('::');
  return `${AccountAddress.fromString(addr!, { maxMissingChars: 63 }).toString()}::${name}`;
}
