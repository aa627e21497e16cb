// The online half of a proof check: the anchor transaction is on chain, committed, and recorded
// this root through the anchor module; and the module's anchored_at view knows the root.
import { AptosApiError, type Aptos, type UserTransactionResponse } from '@aptos-labs/ts-sdk';
import { loadAnchorAbi, viewFunctionAbi, ANCHORED_AT, RECORD_ROOT } from './abi.ts';
import { redactUrl } from '../../kernel/redact.ts';
import { chainIdOfLabel, chainLabel } from './aptos-chain.ts';
import { aptosClient } from './aptos-client.ts';
import { longFunctionId, longModuleId } from './aptos-operator.ts';

export interface ChainStep {
  step: string;
  ok: boolean;
  detail?: string;
}

/**
 * Why the node cannot answer for the chain the proof's anchor names, or null: the same account may
 * hold anchors on mainnet and testnet alike, and a node of the other would confirm the wrong ones.
 * A chain named otherwise than by its id (a sink's configured name) is not compared.
 */
export async function nodeChainProblem(aptos: Aptos, anchorChain: string, node: string): Promise<string | null> {
  const wanted = chainIdOfLabel(anchorChain);
  if (wanted === null) return null;
  let id: number;
  try {
    id = Number((await aptos.getLedgerInfo()).chain_id);
  } catch (err) {
    return `cannot ask ${node}: ${(err as Error).message.split('\n')[0]}`;
  }
  return id === wanted ? null : `the node at ${node} serves ${chainLabel(id)}, not ${anchorChain}, the chain the proof's anchor names`;
}

export async function checkAnchorOnChain(node: string, anchor: { root: string; tx: string; module: string; version: number; chain: string; size: number }): Promise<ChainStep[]> {
  const aptos = aptosClient(node);
  const steps: ChainStep[] = [];
  // The hash goes into a URL path: a proof is hostile input until checked.
  if (typeof anchor.tx !== 'string' || !/^0x[0-9a-f]{64}$/.test(anchor.tx)) {
    return [{ step: 'anchor transaction', ok: false, detail: `anchor.tx ${JSON.stringify(anchor.tx)} is not a transaction hash (0x and 64 lowercase hex digits)` }];
  }
  const wrongChain = await nodeChainProblem(aptos, anchor.chain, redactUrl(node));
  if (wrongChain) return [{ step: 'anchor transaction', ok: false, detail: wrongChain }];
  let tx: UserTransactionResponse;
  try {
    tx = (await aptos.getTransactionByHash({ transactionHash: anchor.tx })) as UserTransactionResponse;
  } catch (err) {
    const detail = err instanceof AptosApiError && err.status === 404 ? `transaction ${anchor.tx} is not on this chain` : `cannot ask ${redactUrl(node)}: ${(err as Error).message.split('\n')[0]}`;
    return [{ step: 'anchor transaction', ok: false, detail }];
  }
  if (tx.type !== 'user_transaction' || !tx.success) return [{ step: 'anchor transaction', ok: false, detail: `transaction ${anchor.tx} did not commit successfully (${tx.type}, ${tx.vm_status ?? 'pending'})` }];
  if (Number(tx.version) !== anchor.version) return [{ step: 'anchor transaction', ok: false, detail: `transaction is at version ${tx.version}, the proof says ${anchor.version}` }];
  steps.push({ step: 'anchor transaction', ok: true, detail: `${anchor.tx} committed at version ${tx.version}` });
  const payload = tx.payload as { function?: string; arguments?: unknown[] };
  let module: string;
  try {
    module = longModuleId(anchor.module);
  } catch {
    return [...steps, { step: 'anchor call', ok: false, detail: `anchor.module ${anchor.module} is not <address>::anchor` }];
  }
  const fn = `${module}::${RECORD_ROOT}`;
  if (longFunctionId(payload.function) !== fn) {
    return [...steps, { step: 'anchor call', ok: false, detail: `the transaction called ${payload.function}, not ${fn}` }];
  }
  if (String(payload.arguments?.[0]).toLowerCase() !== `0x${anchor.root}`) {
    return [...steps, { step: 'anchor call', ok: false, detail: `the transaction recorded root ${String(payload.arguments?.[0])}, not ${anchor.root}` }];
  }
  // The size decides the tree's shape, so the path's sides: the chain's count, not the proof's.
  if (String(payload.arguments?.[1]) !== String(anchor.size)) {
    return [...steps, { step: 'anchor call', ok: false, detail: `the transaction recorded ${String(payload.arguments?.[1])} batch headers, the proof's anchor tree has ${anchor.size}` }];
  }
  steps.push({ step: 'anchor call', ok: true, detail: `${fn} recorded root ${anchor.root} over ${anchor.size} batch headers` });
  try {
    const [at] = await aptos.view<[string]>({
      payload: { function: `${module}::${ANCHORED_AT}` as `${string}::${string}::${string}`, functionArguments: [tx.sender, Buffer.from(anchor.root, 'hex')], abi: viewFunctionAbi(loadAnchorAbi()) },
    });
    const us = BigInt(at);
    const iso = (t: bigint) => new Date(Number(t / 1000n)).toISOString();
    // Whoever published the module may have it say any time; the transaction's is the chain's.
    steps.push(us === 0n ? { step: 'anchor view', ok: false, detail: 'the module does not know this root for the sender' }
      : String(us) !== String(tx.timestamp) ? { step: 'anchor view', ok: false, detail: `anchored_at(${tx.sender}, root) says ${iso(us)}, but the transaction committed at ${iso(BigInt(tx.timestamp))}: the module does not keep the chain's time` }
        : { step: 'anchor view', ok: true, detail: `anchored_at(${tx.sender}, root) = ${iso(us)}, the time the transaction committed` });
  } catch (err) {
    steps.push({ step: 'anchor view', ok: false, detail: `view call failed: ${(err as Error).message.split('\n')[0]}` });
  }
  return steps;
}
