// A record proof checked against the one thing an auditor needs: the operator's Aptos account
// (with a full node to ask). Nothing the proof says about the chain is believed: the transaction
// must have been sent by that account, to the module published at that account, and have recorded
// exactly the proof's anchor root; the batch's key must be one that account registered for the
// device and that counts at the batch's `created` time. Every step says what it checked, and a
// failing step says exactly why. docs/spec/proofs.md, "Trust root: the anchoring account".
import { AccountAddress, AptosApiError, type Aptos, type UserTransactionResponse } from '@aptos-labs/ts-sdk';
import type { BatchHeader } from '../../protocol/batch.ts';
import { verifyRecordProof, type AnchorProof, type RecordProof } from '../../protocol/proof.ts';
import { MODULE_NAME, RECORD_ROOT } from './abi.ts';
import { aptosClient } from './aptos-client.ts';
import { longFunctionId, longModuleId } from './aptos-operator.ts';
import { judgeKey, keyValidAt, whenMs } from './device-keys.ts';
import { AnchorModuleViews } from './module-views.ts';
import { nodeChainProblem } from './on-chain-check.ts';

export interface OperatorTrustRoot {
  /** the operator's Aptos account address, given by the caller (never taken from the proof) */
  anchorAccount: string;
  /** a full node's REST URL, e.g. https://fullnode.mainnet.aptoslabs.com/v1 */
  aptosNode: string;
}

export interface CheckStep {
  step: string;
  ok: boolean;
  detail?: string;
}

export interface OperatorVerdict {
  /** every step held */
  ok: boolean;
  /** ...and so the proof ends at the operator's account */
  trusted: boolean;
  anchored: boolean;
  steps: CheckStep[];
}

/** The caller gave something that is not an Aptos account address. */
export class TrustRootError extends Error {}

const TX_HASH = /^0x[0-9a-f]{64}$/;

/** The whole check: the offline steps of the proof, then the steps against the operator's account. */
export async function verifyProofAgainstOperator(proof: unknown, trust: OperatorTrustRoot, now: () => number = Date.now): Promise<OperatorVerdict> {
  const offline = verifyRecordProof(proof);
  if (!offline.ok) return { ok: false, trusted: false, anchored: false, steps: offline.steps };
  const steps: CheckStep[] = [...offline.steps, ...(await checkProofAgainstOperator(proof as RecordProof, trust, now))];
  const ok = steps.every((s) => s.ok);
  return { ok, trusted: ok, anchored: offline.anchored, steps };
}

/**
 * The steps against the operator's account, for a proof whose offline steps hold (its header is
 * signed by header.key): the anchor, when there is one, then the device key. Stops at the first
 * step that fails.
 */
export async function checkProofAgainstOperator(proof: RecordProof, trust: OperatorTrustRoot, now: () => number = Date.now): Promise<CheckStep[]> {
  const operator = operatorAddress(trust.anchorAccount);
  const aptos = aptosClient(trust.aptosNode);
  const views = new AnchorModuleViews(aptos, `${operator}::${MODULE_NAME}`);
  const steps: CheckStep[] = [];
  let anchoredAtUs = BigInt(now()) * 1000n;
  if (proof.anchor) {
    const at = await checkAnchor(aptos, views, operator, trust.aptosNode, proof.anchor, steps);
    if (at === null) return steps;
    anchoredAtUs = at;
  }
  steps.push(await checkDeviceKey(views, operator, proof.header, anchoredAtUs));
  return steps;
}

function operatorAddress(given: string): string {
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(given)) throw new TrustRootError(`the anchor account must be an Aptos address (0x and up to 64 hex digits), not ${JSON.stringify(given)}`);
  return AccountAddress.fromString(given, { maxMissingChars: 63 }).toString();
}

/** Pushes the anchor steps; the chain's time of the anchor when all hold, else null. */
async function checkAnchor(aptos: Aptos, views: AnchorModuleViews, operator: string, node: string, anchor: AnchorProof, steps: CheckStep[]): Promise<bigint | null> {
  const fail = (step: string, detail: string): null => {
    steps.push({ step, ok: false, detail });
    return null;
  };
  if (typeof anchor.tx !== 'string' || !TX_HASH.test(anchor.tx)) return fail('anchor transaction', `anchor.tx ${JSON.stringify(anchor.tx)} is not a transaction hash (0x and 64 lowercase hex digits)`);
  const wrongChain = await nodeChainProblem(aptos, anchor.chain, node);
  if (wrongChain) return fail('anchor transaction', wrongChain);
  let tx: UserTransactionResponse;
  try {
    tx = (await aptos.getTransactionByHash({ transactionHash: anchor.tx })) as UserTransactionResponse;
  } catch (err) {
    return fail('anchor transaction', err instanceof AptosApiError && err.status === 404 ? `transaction ${anchor.tx} is not on the chain of ${node}` : `cannot ask ${node}: ${firstLine(err)}`);
  }
  if (tx.type !== 'user_transaction') return fail('anchor transaction', `transaction ${anchor.tx} is a ${String(tx.type)}, not a committed user transaction`);
  if (!tx.success) return fail('anchor transaction', `transaction ${anchor.tx} failed on chain: ${tx.vm_status}`);
  if (String(tx.version) !== String(anchor.version)) return fail('anchor transaction', `transaction ${anchor.tx} committed at version ${tx.version}, not at ${anchor.version} as the proof says`);
  steps.push({ step: 'anchor transaction', ok: true, detail: `${anchor.tx} committed at version ${tx.version}` });

  const sender = sameAddress(tx.sender);
  if (sender !== operator) return fail('anchor sender', `the anchor transaction was sent by ${tx.sender}, not by the operator ${operator}`);
  // The proof's own word on the sender is a hint; one that contradicts the chain marks a made-up proof.
  if (anchor.sender !== undefined && sameAddress(anchor.sender) !== operator) return fail('anchor sender', `the proof names the sender ${String(anchor.sender)}, but the operator ${operator} sent the transaction`);
  steps.push({ step: 'anchor sender', ok: true, detail: `sent by the operator ${operator}` });

  const expected = `${operator}::${MODULE_NAME}::${RECORD_ROOT}`;
  const payload = (tx.payload ?? {}) as { function?: unknown; arguments?: unknown[] };
  const called = longFunctionId(payload.function);
  if (called !== expected) return fail('anchor call', `the transaction called ${String(payload.function)}, not the operator's ${expected}`);
  const claimed = typeof anchor.module === 'string' ? safe(() => longModuleId(anchor.module)) : null;
  if (claimed !== `${operator}::${MODULE_NAME}`) return fail('anchor call', `the proof names the module ${String(anchor.module)}, not the operator's ${operator}::${MODULE_NAME}`);
  const [root, count] = payload.arguments ?? [];
  if (String(root).toLowerCase() !== `0x${anchor.root}`) return fail('anchor call', `the transaction recorded root ${String(root)}, not the proof's ${anchor.root}`);
  if (String(count) !== String(anchor.size)) return fail('anchor call', `the transaction recorded ${String(count)} batch headers, the proof's anchor tree has ${anchor.size}`);
  steps.push({ step: 'anchor call', ok: true, detail: `${expected} recorded root ${anchor.root} over ${anchor.size} batch headers` });

  let at: bigint;
  try {
    at = await views.anchoredAt(operator, anchor.root);
  } catch (err) {
    return fail('anchor view', `cannot call anchored_at: ${firstLine(err)}`);
  }
  if (at === 0n) return fail('anchor view', `the operator's module has no record of root ${anchor.root} by ${operator}`);
  // The module is the operator's own code, which it may upgrade; the transaction's time is the chain's.
  const committedUs = String(tx.timestamp);
  if (String(at) !== committedUs) {
    return fail('anchor view', `anchored_at(${operator}, root) says ${whenUs(at)}, but the transaction that recorded the root committed at ${whenUs(BigInt(/^[0-9]{1,20}$/.test(committedUs) ? committedUs : 0))}: the module does not keep the chain's time`);
  }
  steps.push({ step: 'anchor view', ok: true, detail: `anchored_at(${operator}, root) = ${whenMs(at / 1000n)}, the time the transaction committed` });
  return at;
}

async function checkDeviceKey(views: AnchorModuleViews, operator: string, header: BatchHeader, anchoredAtUs: bigint): Promise<CheckStep> {
  const step = 'device key';
  let keys;
  let valid: boolean;
  try {
    keys = await views.deviceKeys(operator, header.device);
    valid = await views.keyValidAt(operator, header.device, header.key, header.created);
  } catch (err) {
    return { step, ok: false, detail: `cannot read the operator's device keys: ${firstLine(err)}` };
  }
  if (valid !== keyValidAt(keys, header.key, BigInt(header.created))) {
    return { step, ok: false, detail: `the node's key_valid_at (${valid}) and device_keys disagree about key ${header.key} of device ${header.device}` };
  }
  return { step, ...judgeKey(keys, { operator, device: header.device, key: header.key, createdMs: header.created, anchoredAtUs }) };
}

const whenUs = (us: bigint) => whenMs(us / 1000n);

function sameAddress(a: unknown): string | null {
  return typeof a === 'string' ? safe(() => AccountAddress.fromString(a, { maxMissingChars: 63 }).toString()) : null;
}

function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}

function firstLine(err: unknown): string {
  return (err as Error).message.split('\n')[0]!;
}
