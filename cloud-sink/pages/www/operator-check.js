// A record proof checked in the browser against the operator's Aptos account the auditor typed,
// asking the Aptos node the auditor typed, directly: the steps of docs/spec/proofs.md, "Trust root:
// the anchoring account", in its order and with the same step names and reasons as
// `fieldproof verify --anchor-account` (cloud-sink/anchor/operator-check.ts; a test holds the two
// to the same steps). Nothing the proof says about the chain is believed, and nothing of it runs
// on the sink: the transaction must have been sent by that account, to the module published at
// that account, and have recorded exactly the proof's anchor root; the batch's key must be one
// that account registered for the device and that counts at the batch's `created` time.
import { AnchorModuleViews, AptosNode, longAddress, longFunctionId, longModuleId, NodeAnswerError } from './aptos-node.js';
import { judgeKey, keyValidAt, whenMs } from './device-keys.js';

const MODULE_NAME = 'anchor';
const RECORD_ROOT = 'record_root';
const TX_HASH = /^0x[0-9a-f]{64}$/;
export const ACCOUNT = /^0x[0-9a-fA-F]{1,64}$/;

/** The auditor typed something that is not an Aptos account address. */
export class TrustRootError extends Error {}

/**
 * The steps against the operator's account ({anchorAccount, aptosNode}), for a proof whose offline
 * steps hold: the anchor, when there is one, then the device key. Stops at the first step that
 * fails. `fetchImpl` is the page's fetch unless a test gives another.
 */
export async function checkProofAgainstOperator(proof, trust, now = Date.now, fetchImpl = undefined) {
  const operator = operatorAddress(trust.anchorAccount);
  const node = new AptosNode(trust.aptosNode, fetchImpl);
  const views = new AnchorModuleViews(node, `${operator}::${MODULE_NAME}`);
  const steps = [];
  let anchoredAtUs = BigInt(now()) * 1000n;
  if (proof.anchor) {
    const at = await checkAnchor(node, views, operator, trust.aptosNode, proof.anchor, steps);
    if (at === null) return steps;
    anchoredAtUs = at;
  }
  steps.push(await checkDeviceKey(views, operator, proof.header, anchoredAtUs));
  return steps;
}

function operatorAddress(given) {
  if (typeof given !== 'string' || !ACCOUNT.test(given)) throw new TrustRootError(`the anchor account must be an Aptos address (0x and up to 64 hex digits), not ${JSON.stringify(given)}`);
  return longAddress(given);
}

/** Pushes the anchor steps; the chain's time of the anchor (microseconds) when all hold, else null. */
async function checkAnchor(node, views, operator, nodeUrl, anchor, steps) {
  const fail = (step, detail) => {
    steps.push({ step, ok: false, detail });
    return null;
  };
  if (typeof anchor.tx !== 'string' || !TX_HASH.test(anchor.tx)) return fail('anchor transaction', `anchor.tx ${JSON.stringify(anchor.tx)} is not a transaction hash (0x and 64 lowercase hex digits)`);
  const wrongChain = await nodeChainProblem(node, anchor.chain, nodeUrl);
  if (wrongChain) return fail('anchor transaction', wrongChain);
  let tx;
  try {
    tx = await node.transactionByHash(anchor.tx);
  } catch (err) {
    return fail('anchor transaction', err instanceof NodeAnswerError && err.status === 404 ? `transaction ${anchor.tx} is not on the chain of ${nodeUrl}` : `cannot ask ${nodeUrl}: ${firstLine(err)}`);
  }
  if (typeof tx !== 'object' || tx === null) return fail('anchor transaction', `cannot ask ${nodeUrl}: the node answered ${JSON.stringify(tx)}, not a transaction`);
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
  const payload = tx.payload ?? {};
  if (longFunctionId(payload.function) !== expected) return fail('anchor call', `the transaction called ${String(payload.function)}, not the operator's ${expected}`);
  const claimed = typeof anchor.module === 'string' ? safe(() => longModuleId(anchor.module)) : null;
  if (claimed !== `${operator}::${MODULE_NAME}`) return fail('anchor call', `the proof names the module ${String(anchor.module)}, not the operator's ${operator}::${MODULE_NAME}`);
  const [root, count] = payload.arguments ?? [];
  if (String(root).toLowerCase() !== `0x${anchor.root}`) return fail('anchor call', `the transaction recorded root ${String(root)}, not the proof's ${anchor.root}`);
  if (String(count) !== String(anchor.size)) return fail('anchor call', `the transaction recorded ${String(count)} batch headers, the proof's anchor tree has ${anchor.size}`);
  steps.push({ step: 'anchor call', ok: true, detail: `${expected} recorded root ${anchor.root} over ${anchor.size} batch headers` });

  let at;
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

/** The chain id a label names (aptos:mainnet, aptos:testnet, aptos:<id>), or null (aptos-chain.ts chainIdOfLabel). */
function chainIdOfLabel(label) {
  if (label === 'aptos:mainnet') return 1;
  if (label === 'aptos:testnet') return 2;
  const id = /^aptos:([1-9][0-9]{0,2})$/.exec(label)?.[1];
  return id === undefined ? null : Number(id);
}

const chainLabel = (id) => (id === 1 ? 'aptos:mainnet' : id === 2 ? 'aptos:testnet' : `aptos:${id}`);

/** Why the node cannot answer for the chain the anchor names, or null (on-chain-check.ts nodeChainProblem). */
async function nodeChainProblem(node, anchorChain, nodeUrl) {
  const wanted = chainIdOfLabel(anchorChain);
  if (wanted === null) return null;
  let id;
  try {
    id = Number((await node.ledgerInfo())?.chain_id);
  } catch (err) {
    return `cannot ask ${nodeUrl}: ${firstLine(err)}`;
  }
  return id === wanted ? null : `the node at ${nodeUrl} serves ${chainLabel(id)}, not ${anchorChain}, the chain the proof's anchor names`;
}

async function checkDeviceKey(views, operator, header, anchoredAtUs) {
  const step = 'device key';
  let keys;
  let valid;
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

const whenUs = (us) => whenMs(us / 1000n);

function sameAddress(a) {
  return typeof a === 'string' ? safe(() => longAddress(a)) : null;
}

function safe(f) {
  try {
    return f();
  } catch {
    return null;
  }
}

function firstLine(err) {
  return String(err?.message ?? err).split('\n')[0];
}
