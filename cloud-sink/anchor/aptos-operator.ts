// The operator's Aptos account as the sink uses it: it signs as the account at the anchor module's
// address (the operator publishes the module at its own account and sends everything from it, so
// that one address is a verifier's whole trust root), keeps one transaction in flight at a time so
// that anchors and key changes never race for a sequence number, and checks once that the
// configured key really controls the account before sending anything.
import {
  Account, AccountAddress, AccountAuthenticator, Aptos, AptosApiError, Ed25519PrivateKey, SimpleTransaction,
  generateUserTransactionHash, type EntryFunctionArgumentTypes, type SimpleEntryFunctionArgumentTypes, type MoveModule, type UserTransactionResponse,
} from '@aptos-labs/ts-sdk';
import { entryFunctionAbi } from './abi.ts';
import { aptosClient } from './aptos-client.ts';
import { AnchorModuleViews } from './module-views.ts';

export interface AptosOperatorOptions {
  node: string;
  /** the published module, `<operator address>::anchor` */
  module: string;
  privateKey: string;
  maxGasAmount: number;
  waitSecs: number;
  abi: MoveModule;
  /**
   * holds a lock shared with the other sink processes over the same store, around each
   * transaction from signing to commit: one account has one sequence of transaction numbers
   */
  acrossProcesses?: <T>(fn: () => Promise<T>) => Promise<T>;
}

export interface SignedCall {
  transaction: SimpleTransaction;
  senderAuthenticator: AccountAuthenticator;
  hash: string;
}

/** A transaction that committed but failed: `abort` is the module's constant (E_DEVICE_EXISTS, ...) when it aborted. */
export class ChainCallError extends Error {
  readonly abort: string | null;
  readonly fn: string;
  readonly hash: string;
  readonly vmStatus: string;

  constructor(fn: string, hash: string, vmStatus: string) {
    super(`${fn} transaction ${hash} failed on chain: ${vmStatus}`);
    this.fn = fn;
    this.hash = hash;
    this.vmStatus = vmStatus;
    this.abort = /\b(E_[A-Z_]+)\(/.exec(vmStatus)?.[1] ?? null;
  }
}

type FunctionId = `${string}::${string}::${string}`;
type CallArgument = EntryFunctionArgumentTypes | SimpleEntryFunctionArgumentTypes;

export class AptosOperatorAccount {
  readonly aptos: Aptos;
  readonly account: Account;
  /** `<long address>::anchor` */
  readonly module: string;
  readonly views: AnchorModuleViews;
  private turn: Promise<unknown> = Promise.resolve();
  private accountChecked: Promise<void> | null = null;

  private readonly opts: AptosOperatorOptions;

  constructor(opts: AptosOperatorOptions) {
    this.opts = opts;
    this.aptos = aptosClient(opts.node);
    this.module = longModuleId(opts.module);
    const address = AccountAddress.fromString(this.module.split('::')[0]!);
    this.account = Account.fromPrivateKey({ privateKey: new Ed25519PrivateKey(opts.privateKey, false), address });
    this.views = new AnchorModuleViews(this.aptos, this.module, opts.abi);
  }

  /** The operator's account address, long form: the module's address. */
  get address(): string {
    return this.account.accountAddress.toString();
  }

  /** Run `fn` when no other transaction of this account is in flight, in this process or another. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const across = this.opts.acrossProcesses;
    const run = this.turn.then(async () => {
      await this.checkAccount();
      return across ? across(fn) : fn();
    });
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** Build and sign a call of one of the module's entry functions (not sent). */
  async sign(name: string, args: CallArgument[]): Promise<SignedCall> {
    const transaction = await this.aptos.transaction.build.simple({
      sender: this.account.accountAddress,
      data: { function: `${this.module}::${name}` as FunctionId, functionArguments: args, abi: entryFunctionAbi(this.opts.abi, name) },
      options: { maxGasAmount: this.opts.maxGasAmount },
    });
    const senderAuthenticator = this.aptos.transaction.sign({ signer: this.account, transaction });
    return { transaction, senderAuthenticator, hash: generateUserTransactionHash({ transaction, senderAuthenticator }) };
  }

  async send(transaction: SimpleTransaction, senderAuthenticator: AccountAuthenticator): Promise<void> {
    await this.aptos.transaction.submit.simple({ transaction, senderAuthenticator });
  }

  /** Wait for the commit; the response whether it succeeded or not. */
  async wait(hash: string): Promise<UserTransactionResponse> {
    return (await this.aptos.waitForTransaction({ transactionHash: hash, options: { timeoutSecs: this.opts.waitSecs, checkSuccess: false } })) as UserTransactionResponse;
  }

  async lookup(hash: string): Promise<'committed' | 'failed' | 'pending' | 'unknown'> {
    try {
      const tx = await this.aptos.getTransactionByHash({ transactionHash: hash });
      if (tx.type === 'pending_transaction') return 'pending';
      return (tx as UserTransactionResponse).success ? 'committed' : 'failed';
    } catch (err) {
      if (err instanceof AptosApiError && err.status === 404) return 'unknown';
      throw err;
    }
  }

  async versionOf(hash: string): Promise<number> {
    return Number(((await this.aptos.getTransactionByHash({ transactionHash: hash })) as UserTransactionResponse).version);
  }

  /** Sign, send and wait for one entry function call, in turn; throws ChainCallError when it fails on chain. */
  call(name: string, args: CallArgument[]): Promise<{ tx: string; version: number }> {
    return this.exclusive(async () => {
      const { transaction, senderAuthenticator, hash } = await this.sign(name, args);
      await this.send(transaction, senderAuthenticator);
      const done = await this.wait(hash);
      if (!done.success) throw new ChainCallError(name, hash, done.vm_status);
      return { tx: hash, version: Number(done.version) };
    });
  }

  /** Once: the account exists and the configured key is its authentication key (else every transaction would be refused). */
  private checkAccount(): Promise<void> {
    this.accountChecked ??= (async () => {
      let info;
      try {
        info = await this.aptos.getAccountInfo({ accountAddress: this.account.accountAddress });
      } catch (err) {
        if (err instanceof AptosApiError && err.status === 404) throw new Error(`the operator account ${this.address} does not exist on chain: create and fund it, and publish the module there`);
        throw err;
      }
      const keyAuth = this.account.publicKey.authKey().toString();
      if (AccountAddress.from(info.authentication_key).toString() !== keyAuth) {
        throw new Error(`the configured Aptos key does not control ${this.address} (the account's authentication key is ${info.authentication_key}, the key's is ${keyAuth}): anchor.aptos.module must name the operator's own account`);
      }
    })().catch((err: unknown) => {
      this.accountChecked = null;
      throw err;
    });
    return this.accountChecked;
  }
}

/** `0xcafe::anchor` -> the module id with the address in Aptos's canonical form. */
export function longModuleId(module: string): string {
  const [addr, name] = module.split('::');
  return `${AccountAddress.fromString(addr!, { maxMissingChars: 63 }).toString()}::${name}`;
}

/** `0xcafe::anchor::record_root` with the address in long form; null for anything that is not a function id. */
export function longFunctionId(id: unknown): string | null {
  const parts = typeof id === 'string' ? id.split('::') : [];
  if (parts.length !== 3) return null;
  try {
    return `${longModuleId(`${parts[0]}::${parts[1]}`)}::${parts[2]}`;
  } catch {
    return null;
  }
}
