// An Aptos full-node SIMULATOR for tests and the demo: no Aptos node can run here, so this HTTP
// server answers the REST endpoints @aptos-labs/ts-sdk 6.3 calls to build, submit, wait for and
// look up a transaction, and to call a view function. It is strict where a node is: it decodes
// the BCS signed transaction, checks the Ed25519 signature over the signing message, that the key
// matches the sender's authentication key, the chain id, the sequence number and the expiry, and
// the entry function and its arguments against the module's ABI JSON. It then applies the anchor
// module's rules (move/sources/anchor.move: anchors and the device key registry, in
// anchor-module.ts) to the state of the copy of the module that was called. It is not a chain:
// no consensus, no gas accounting, no Move VM.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MoveFunction, MoveModule } from '@aptos-labs/ts-sdk';
import { verifyBytes } from '../../protocol/signature.ts';
import { argumentTypes } from '../anchor/abi.ts';
import { normalizeAddress } from './address.ts';
import { SimulatedAnchorModule, type MoveArgument, type ViewOverride } from './anchor-module.ts';
import { ApiError } from './api-error.ts';
import { answerCors } from './cors.ts';
import { BcsError, decodeMoveArgument, decodeSignedTransaction, type DecodedSignedTransaction } from './bcs-reader.ts';
import { MoveAbort, type KeyEntry, type ModuleEvent } from './device-key-registry.ts';
import { parseViewRequest } from './view-request.ts';

export { normalizeAddress };

const sha3 = (...parts: (Buffer | string)[]) => {
  const h = createHash('sha3-256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const RAW_TRANSACTION_SALT = sha3('APTOS::RawTransaction');
const TRANSACTION_SALT = sha3('APTOS::Transaction');

interface Account {
  authKey: string;
  sequenceNumber: bigint;
}

export interface SimulatedTransaction {
  hash: string;
  version: number | null;
  sender: string;
  sequenceNumber: string;
  functionId: string;
  arguments: MoveArgument[];
  success: boolean | null;
  vmStatus: string;
  timestampUs: bigint;
  json: Record<string, unknown>;
}

export interface SimulatorOptions {
  chainId?: number;
  /** the module's ABI JSON (move/anchor.abi.json) */
  abi: MoveModule;
  /** where the module is published (publishModule adds more copies) */
  moduleAddress: string;
  /** how long a submitted transaction stays pending before it commits */
  commitDelayMs?: number;
}

export class AptosSimulator {
  private server: Server | null = null;
  private readonly accounts = new Map<string, Account>();
  private readonly modules = new Map<string, SimulatedAnchorModule>();
  private readonly txs = new Map<string, SimulatedTransaction>();
  private readonly order: SimulatedTransaction[] = [];
  private version = 0;
  private lastCommitUs = 0n;
  private failNextSubmits = 0;
  private readonly chainId: number;
  private readonly moduleAddress: string;
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  /** every submission the simulator refused, with its reason: what the tests look at */
  readonly rejected: string[] = [];

  private readonly opts: SimulatorOptions;

  constructor(opts: SimulatorOptions) {
    this.opts = opts;
    this.chainId = opts.chainId ?? 4;
    this.moduleAddress = normalizeAddress(opts.moduleAddress);
    this.modules.set(this.moduleAddress, new SimulatedAnchorModule(this.moduleAddress));
  }

  async start(port = 0, host = '127.0.0.1'): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const t of this.pendingTimers) clearTimeout(t);
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  /** The REST base URL, as the SDK's `fullnode` setting wants it. */
  get url(): string {
    const a = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${a.port}/v1`;
  }

  /**
   * Create an account. Its authentication key is its address, as a new account's is, unless
   * `authKey` is given: an account whose key was rotated (0x1::account::rotate_authentication_key).
   */
  createAccount(address: string, opts: { authKey?: string; sequenceNumber?: bigint } = {}): void {
    const a = normalizeAddress(address);
    this.accounts.set(a, { authKey: opts.authKey ? `0x${normalizeAddress(opts.authKey).slice(2).padStart(64, '0')}` : a, sequenceNumber: opts.sequenceNumber ?? 0n });
  }

  /** Publish another copy of the module, with its own state, at `address` (another account's copy). */
  publishModule(address: string): void {
    const a = normalizeAddress(address);
    if (!this.modules.has(a)) this.modules.set(a, new SimulatedAnchorModule(a));
  }

  /**
   * Answer view `fn` of the module at `address` with `answer` from now on: what its account can
   * make the module say by upgrading it (a "compatible" package may change any function's body).
   */
  upgradeView(address: string, fn: string, answer: ViewOverride): void {
    this.moduleAt(address).upgradedViews.set(fn, answer);
  }

  /** The next `n` submissions fail with 503, as an overloaded node's would. */
  failSubmissions(n: number): void {
    this.failNextSubmits = n;
  }

  transactions(): SimulatedTransaction[] {
    return this.order.slice();
  }

  anchoredAt(anchorer: string, rootHex: string, module = this.moduleAddress): bigint {
    return this.moduleAt(module).anchoredAt(anchorer, rootHex);
  }

  /** The device_keys view of the module at `module`, for the tests. */
  deviceKeys(operator: string, device: string, module = this.moduleAddress): KeyEntry[] {
    return this.moduleAt(module).deviceKeys.keys(normalizeAddress(operator), device);
  }

  private moduleAt(address: string): SimulatedAnchorModule {
    const m = this.modules.get(normalizeAddress(address));
    if (!m) throw new Error(`no module is published at ${address}`);
    return m;
  }

  // ------------------------------------------------------------------ HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (answerCors(req, res)) return;
      const url = new URL(req.url ?? '/', 'http://simulator');
      const path = url.pathname.replace(/\/+$/, '');
      const method = req.method ?? 'GET';
      let m: RegExpExecArray | null;
      if (method === 'GET' && (path === '/v1' || path === '')) return this.json(res, 200, this.ledgerInfo());
      if (method === 'GET' && path === '/v1/estimate_gas_price') return this.json(res, 200, { deprioritized_gas_estimate: 100, gas_estimate: 100, prioritized_gas_estimate: 150 });
      if (method === 'GET' && (m = /^\/v1\/accounts\/([^/]+)$/.exec(path))) return this.json(res, 200, this.accountInfo(m[1]!));
      if (method === 'GET' && (m = /^\/v1\/accounts\/([^/]+)\/module\/([^/]+)$/.exec(path))) return this.json(res, 200, this.module(m[1]!, m[2]!));
      if (method === 'POST' && path === '/v1/transactions') return this.json(res, 202, await this.submit(req));
      if (method === 'GET' && (m = /^\/v1\/transactions\/by_hash\/([^/]+)$/.exec(path))) return this.json(res, 200, this.byHash(m[1]!).json);
      if (method === 'GET' && (m = /^\/v1\/transactions\/wait_by_hash\/([^/]+)$/.exec(path))) return this.json(res, 200, (await this.waitByHash(m[1]!)).json);
      if (method === 'GET' && (m = /^\/v1\/transactions\/by_version\/(\d+)$/.exec(path))) {
        const tx = this.order.find((t) => t.version === Number(m![1]));
        if (!tx) throw new ApiError(404, `transaction not found by version ${m[1]}`, 'transaction_not_found');
        return this.json(res, 200, tx.json);
      }
      if (method === 'POST' && path === '/v1/view') return this.json(res, 200, await this.view(req));
      throw new ApiError(404, `the simulator has no route ${method} ${path}`, 'web_framework_error');
    } catch (err) {
      if (err instanceof ApiError) return this.json(res, err.status, { message: err.message, error_code: err.code, vm_error_code: err.vmErrorCode ?? null });
      if (err instanceof BcsError) return this.json(res, 400, { message: `invalid BCS: ${err.message}`, error_code: 'invalid_input', vm_error_code: null });
      return this.json(res, 500, { message: (err as Error).message, error_code: 'internal_error', vm_error_code: null });
    }
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-aptos-chain-id': String(this.chainId) });
    res.end(text);
  }

  private body(req: IncomingMessage, max = 64 * 1024): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        if (n > max) reject(new ApiError(413, 'request too large', 'invalid_input'));
        else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  private nowUs(): bigint {
    return BigInt(Date.now()) * 1000n;
  }

  private ledgerInfo() {
    return {
      chain_id: this.chainId, epoch: '1', ledger_version: String(this.version), oldest_ledger_version: '0',
      ledger_timestamp: this.nowUs().toString(), node_role: 'full_node', oldest_block_height: '0', block_height: String(this.version), git_hash: 'simulator',
    };
  }

  private account(address: string): Account {
    let a: string;
    try {
      a = normalizeAddress(address);
    } catch {
      throw new ApiError(400, `invalid address ${address}`, 'invalid_input');
    }
    const acct = this.accounts.get(a);
    if (!acct) throw new ApiError(404, `Account not found by Address(${a}) and Ledger version(${this.version})`, 'account_not_found');
    return acct;
  }

  private accountInfo(address: string) {
    const a = this.account(address);
    return { sequence_number: a.sequenceNumber.toString(), authentication_key: a.authKey };
  }

  /** The published module's ABI, its own structs named at the address it was published at. */
  private module(address: string, name: string) {
    let a: string;
    try {
      a = normalizeAddress(address);
    } catch {
      throw new ApiError(400, `invalid address ${address}`, 'invalid_input');
    }
    if (!this.modules.has(a) || name !== this.opts.abi.name) throw new ApiError(404, `Module not found by Address(${address}), Module name(${name})`, 'module_not_found');
    const abi = JSON.parse(JSON.stringify(this.opts.abi).replaceAll(`0x0::${name}::`, `${a}::${name}::`)) as MoveModule;
    return { bytecode: '0x', abi: { ...abi, address: a } };
  }

  // ------------------------------------------------------------------ transactions

  private async submit(req: IncomingMessage): Promise<unknown> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const body = await this.body(req);
    if (type !== 'application/x.aptos.signed_transaction+bcs') throw new ApiError(415, `content type ${type} is not application/x.aptos.signed_transaction+bcs`, 'unsupported_media_type');
    if (this.failNextSubmits > 0) {
      this.failNextSubmits--;
      throw new ApiError(503, 'the simulator was told to fail this submission', 'internal_error');
    }
    const refuse = (status: number, message: string, code: string, vm?: number): never => {
      this.rejected.push(message);
      throw new ApiError(status, message, code, vm);
    };
    let tx: DecodedSignedTransaction;
    try {
      tx = decodeSignedTransaction(body);
    } catch (err) {
      if (err instanceof BcsError) refuse(400, `invalid BCS: ${err.message}`, 'invalid_input');
      throw err;
    }
    const hash = '0x' + sha3(TRANSACTION_SALT, Buffer.from([0]), body).toString('hex');
    const existing = this.txs.get(hash);
    if (existing) return existing.json; // the same signed transaction again: a node accepts it idempotently
    if (tx.chainId !== this.chainId) refuse(400, `chain id ${tx.chainId} is not this chain's ${this.chainId}`, 'vm_error', 15);
    const signingMessage = Buffer.concat([RAW_TRANSACTION_SALT, tx.raw]);
    if (!verifyBytes(tx.publicKey.toString('hex'), signingMessage, tx.signature.toString('hex'))) refuse(400, 'Invalid transaction: signature does not verify', 'vm_error', 1);
    const acct = this.accounts.get(tx.sender);
    if (!acct) refuse(400, `sender ${tx.sender} does not exist`, 'vm_error', 2);
    const authKey = '0x' + sha3(tx.authKeyPreimage).toString('hex');
    if (authKey !== acct!.authKey) refuse(400, `the public key does not match the authentication key of ${tx.sender}`, 'vm_error', 2);
    if (tx.sequenceNumber < acct!.sequenceNumber) refuse(400, `SEQUENCE_NUMBER_TOO_OLD: ${tx.sequenceNumber} < ${acct!.sequenceNumber}`, 'vm_error', 3);
    if (tx.sequenceNumber > acct!.sequenceNumber) refuse(400, `SEQUENCE_NUMBER_TOO_NEW: ${tx.sequenceNumber} > ${acct!.sequenceNumber}`, 'vm_error', 4);
    if (tx.expirationSecs * 1000n <= BigInt(Date.now())) refuse(400, 'TRANSACTION_EXPIRED', 'vm_error', 6);
    if (tx.maxGasAmount < 1n || tx.gasUnitPrice < 1n) refuse(400, 'gas amount and price must be positive', 'vm_error', 13);
    const call = tx.call;
    const moduleAddress = normalizeAddress(call.moduleAddress);
    const module = this.modules.get(moduleAddress);
    if (!module || call.moduleName !== this.opts.abi.name) {
      refuse(400, `LINKER_ERROR: module ${call.moduleAddress}::${call.moduleName} is not published on this simulator`, 'vm_error', 2000);
    }
    const fn = this.opts.abi.exposed_functions.find((f) => f.name === call.functionName);
    if (!fn || !fn.is_entry) refuse(400, `FUNCTION_RESOLUTION_FAILURE: ${call.moduleName}::${call.functionName} is not an entry function`, 'vm_error', 1091);
    const types = argumentTypes(fn!);
    if (call.args.length !== types.length) refuse(400, `NUMBER_OF_ARGUMENTS_MISMATCH: ${call.functionName} takes ${types.length} arguments, got ${call.args.length}`, 'vm_error', 1096);
    let args: MoveArgument[] = [];
    try {
      args = call.args.map((a, i) => decodeMoveArgument(types[i]!, a));
    } catch (err) {
      refuse(400, `FAILED_TO_DESERIALIZE_ARGUMENT: ${(err as Error).message}`, 'vm_error', 1098);
    }

    acct!.sequenceNumber++;
    const functionId = `${moduleAddress}::${call.moduleName}::${call.functionName}`;
    const record: SimulatedTransaction = {
      hash, version: null, sender: tx.sender, sequenceNumber: tx.sequenceNumber.toString(), functionId, arguments: args,
      success: null, vmStatus: '', timestampUs: 0n, json: {},
    };
    const common = {
      hash, sender: tx.sender, sequence_number: tx.sequenceNumber.toString(), max_gas_amount: tx.maxGasAmount.toString(),
      gas_unit_price: tx.gasUnitPrice.toString(), expiration_timestamp_secs: tx.expirationSecs.toString(),
      payload: { type: 'entry_function_payload', function: functionId, type_arguments: [], arguments: args },
      signature: tx.scheme === 'ed25519'
        ? { type: 'ed25519_signature', public_key: '0x' + tx.publicKey.toString('hex'), signature: '0x' + tx.signature.toString('hex') }
        : { type: 'single_sender', public_key: { value: '0x' + tx.publicKey.toString('hex'), type: 'ed25519' }, signature: { value: '0x' + tx.signature.toString('hex'), type: 'ed25519' } },
    };
    record.json = { type: 'pending_transaction', ...common };
    this.txs.set(hash, record);
    const commit = () => this.execute(record, common, module!, call.functionName);
    const delay = this.opts.commitDelayMs ?? 0;
    if (delay > 0) {
      const t = setTimeout(() => {
        this.pendingTimers.delete(t);
        commit();
      }, delay);
      this.pendingTimers.add(t);
    } else commit();
    return { type: 'pending_transaction', ...common };
  }

  /** Commit: the module's rules decide success; an abort changes nothing but still uses the sequence number. */
  private execute(tx: SimulatedTransaction, common: Record<string, unknown>, module: SimulatedAnchorModule, fn: string): void {
    // each transaction in a block of its own: the chain's clock moves forward between any two
    const now = this.nowUs() > this.lastCommitUs ? this.nowUs() : this.lastCommitUs + 1n;
    this.lastCommitUs = now;
    let events: ModuleEvent[] = [];
    let abort: MoveAbort | null = null;
    try {
      events = module.execute(fn, tx.sender, tx.arguments, now);
    } catch (err) {
      if (!(err instanceof MoveAbort)) throw err;
      abort = err;
    }
    tx.version = ++this.version;
    tx.success = abort === null;
    tx.vmStatus = abort ? `Move abort in ${module.address}::anchor: ${abort.message}` : 'Executed successfully';
    tx.timestampUs = now;
    tx.json = {
      type: 'user_transaction', version: String(tx.version), hash: tx.hash, state_change_hash: '0x' + randomBytes(32).toString('hex'),
      event_root_hash: '0x' + randomBytes(32).toString('hex'), state_checkpoint_hash: null, gas_used: '9', success: tx.success, vm_status: tx.vmStatus,
      accumulator_root_hash: '0x' + randomBytes(32).toString('hex'), changes: [], ...common,
      events: events.map((e) => ({ guid: { creation_number: '0', account_address: '0x0' }, sequence_number: '0', type: `${module.address}::anchor::${e.name}`, data: e.data })),
      timestamp: now.toString(),
    };
    this.order.push(tx);
  }

  private byHash(hash: string): SimulatedTransaction {
    const tx = this.txs.get(hash.toLowerCase());
    if (!tx) throw new ApiError(404, `Transaction not found by Transaction hash(${hash})`, 'transaction_not_found');
    return tx;
  }

  private async waitByHash(hash: string): Promise<SimulatedTransaction> {
    const until = Date.now() + 1000;
    let tx = this.byHash(hash);
    while (tx.version === null && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
      tx = this.byHash(hash);
    }
    return tx;
  }

  // ------------------------------------------------------------------ view

  private async view(req: IncomingMessage): Promise<unknown[]> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const call = parseViewRequest(type, await this.body(req), (address, moduleName, functionName) => this.viewFunction(address, moduleName, functionName));
    return this.modules.get(call.moduleAddress)!.view(call.functionName, call.args);
  }

  private viewFunction(address: string, moduleName: string, name: string): MoveFunction {
    let a: string;
    try {
      a = normalizeAddress(address);
    } catch {
      throw new ApiError(400, `invalid address ${address}`, 'invalid_input');
    }
    if (!this.modules.has(a) || moduleName !== this.opts.abi.name) throw new ApiError(400, `module ${address}::${moduleName} is not published on this simulator`, 'vm_error', 2000);
    const fn = this.opts.abi.exposed_functions.find((f) => f.name === name);
    if (!fn || !fn.is_view) throw new ApiError(400, `${name} is not a view function`, 'vm_error', 1091);
    return fn;
  }
}
