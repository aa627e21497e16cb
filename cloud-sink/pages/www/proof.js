// The proof page: fetch a proof from this sink (device and seq) or read a dropped file, then check
// it here, step by step, against the trust roots the auditor typed: the device key (proof-check.js)
// and the operator's Aptos account, asked of the node the auditor chose, directly
// (operator-check.js). The sink is only the messenger: the verdict is this page's.
import { $, el } from './dom.js';
import { ACCOUNT, checkProofAgainstOperator } from './operator-check.js';
import { checkProof, isHex } from './proof-check.js';
import { parseProofBytes, proofFromResponse } from './proof-input.js';

const ALL_STEPS = ['shape', 'header', 'batch signature', 'given key', 'record', 'record in batch', 'dropped', 'record asked', 'anchor', 'batch in anchor',
  'anchor transaction', 'anchor sender', 'anchor call', 'anchor view', 'device key'];
/** What the auditor typed, kept in this tab only across the reload that opens the page for a node. */
const TYPED_ROOTS = 'fieldproof.proof.roots';

function verdict(text, kind) {
  $('verdict').textContent = text;
  $('verdict').className = kind;
}

/** A refusal before any step: nothing is shown as checked. */
function refuse(text) {
  verdict(text, 'refused');
  $('steps').replaceChildren();
  $('steps').dataset.done = String(Date.now());
  return null;
}

/** The node this page was opened for (its policy lets it reach that origin alone), or null. */
function openedFor() {
  const node = new URLSearchParams(location.search).get('node');
  try {
    return node ? new URL(node) : null;
  } catch {
    return null;
  }
}

/**
 * The roots typed: {deviceKey, account, node}, each undefined when not typed; null (said on the
 * page) when one is not what it must be, or the page may not reach the node typed.
 */
function typedRoots() {
  const raw = $('device-key').value.trim();
  if (raw !== '' && !isHex(raw.toLowerCase(), 32)) return refuse('the device key must be an Ed25519 public key in 64 hex digits');
  const account = $('anchor-account').value.trim() || undefined;
  if (account !== undefined && !ACCOUNT.test(account)) return refuse('the operator\'s account must be an Aptos account address (0x and up to 64 hex digits)');
  const node = $('aptos-node').value.trim() || undefined;
  if (account !== undefined && node === undefined) return refuse('the operator\'s account is checked on chain: type an Aptos node URL too');
  if (node !== undefined && account !== undefined) {
    const url = nodeUrl(node);
    if (!url) return refuse('the Aptos node must be an http(s) URL');
    if (url.origin !== openedFor()?.origin) return refuse(`this page may ask no node but the one it was opened for: press "use this node" to open it for ${url.origin}`);
  }
  return { deviceKey: raw === '' ? undefined : raw.toLowerCase(), account, node };
}

function nodeUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

function pending(step, name, detail) {
  return el('li', { class: 'unchecked', 'data-step': step }, el('span', { class: 'name', text: name }), el('span', { class: 'detail', text: detail }));
}

/** `asked`: the record asked of the sink, which the proof must be of; none for a file. */
async function check(proof, source, asked) {
  const roots = typedRoots();
  if (roots === null) return;
  const { deviceKey, account, node } = roots;
  $('source').textContent = source;
  const offline = await checkProof(proof, { ...(deviceKey === undefined ? {} : { deviceKey }), ...(asked === undefined ? {} : { asked }) });
  const steps = offline.steps;
  if (offline.ok && account !== undefined) steps.push(...(await checkProofAgainstOperator(proof, { anchorAccount: account, aptosNode: node })));
  const ok = steps.every((s) => s.ok);
  const items = steps.map((s) => el('li', { class: s.ok ? 'pass' : 'fail', 'data-step': s.step },
    el('span', { class: 'name', text: `${s.ok ? 'passed' : 'failed'}: ${s.step}` }), el('span', { class: 'detail', text: s.detail ?? '' })));
  if (ok && !offline.anchored) items.push(pending('batch in anchor', 'not yet: batch in anchor', 'the batch is not anchored yet; ask the sink again after its next anchor'));
  if (ok && offline.anchored && account === undefined) {
    const a = proof.anchor;
    items.push(pending('on chain', 'not checked: on chain', `that transaction ${a.tx} on ${a.chain} recorded root ${a.root}, sent by the operator's account: type the operator's account and a node to check it here`));
  }
  $('steps').replaceChildren(...items);
  $('steps').dataset.done = String(Date.now());
  if (!ok) {
    const last = steps.at(-1);
    verdict(`refused at "${last.step}": ${last.detail}`, 'refused');
  } else if (deviceKey !== undefined || account !== undefined) {
    const ends = [deviceKey !== undefined ? 'the device key you gave' : null, account !== undefined ? `the operator's account ${account}` : null].filter(Boolean).join(' and ');
    const anchored = !offline.anchored ? ' (not anchored yet)' : account !== undefined ? ', anchored on chain by that account' : ', and its batch is in an anchor (the chain is not checked: no operator account given)';
    verdict(`holds: it ends at ${ends}${anchored}`, 'trusted');
  } else {
    verdict(`consistent, but no trust root given: it is signed by the key it carries (${proof.header.key}), which anyone can make; type the device key or the operator's account`, 'consistent');
  }
}

/** Reopen the page for the node typed (its policy is set by the sink, and only widened by a reload), keeping what was typed in this tab. */
function useNode() {
  const node = $('aptos-node').value.trim();
  if (!nodeUrl(node)) {
    refuse('the Aptos node must be an http(s) URL');
    return;
  }
  sessionStorage.setItem(TYPED_ROOTS, JSON.stringify({ node, account: $('anchor-account').value.trim(), key: $('device-key').value.trim() }));
  const params = new URLSearchParams({ node });
  for (const f of ['device', 'seq', 'epoch']) if ($(f).value.trim()) params.set(f, $(f).value.trim());
  location.assign(`/proof?${params}`);
}

/**
 * The roots typed before the reload, only when this page was opened for the node typed then: a
 * link that names a node fills in nothing, so every root on the page is one the auditor typed.
 */
function restoreTypedRoots() {
  const node = new URLSearchParams(location.search).get('node');
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(TYPED_ROOTS) ?? 'null');
  } catch {
    // nothing kept
  }
  const opened = openedFor();
  if (saved && typeof saved === 'object' && node !== null && saved.node === node) {
    $('aptos-node').value = saved.node;
    $('anchor-account').value = typeof saved.account === 'string' ? saved.account : '';
    $('device-key').value = typeof saved.key === 'string' ? saved.key : '';
  }
  $('node-state').textContent = opened
    ? `this page may ask the node at ${opened.origin}, and no other`
    : 'no node chosen: this page may talk to this sink alone';
}

async function fetchProof(event) {
  event.preventDefault();
  const device = $('device').value.trim();
  const seq = $('seq').value.trim();
  // seqs count from 1 again in each recovery epoch: a report cites a reading by both
  const epoch = $('epoch').value.trim() || '1';
  if (!device || !/^[1-9][0-9]*$/.test(seq) || !/^[1-9][0-9]*$/.test(epoch)) {
    refuse('give a device, a seq and an epoch (positive integers; epoch 1 when none is given)');
    return;
  }
  const res = await fetch(`/v1/proofs/${encodeURIComponent(device)}/${seq}${epoch === '1' ? '' : `?epoch=${epoch}`}`, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  const answer = await proofFromResponse(res);
  if (res.status !== 200) {
    refuse(`the sink has no proof: ${(answer.ok && typeof answer.proof?.error === 'string' && answer.proof.error) || res.status}`);
    return;
  }
  if (!answer.ok) {
    refuse(`the sink's answer ${answer.problem}`);
    return;
  }
  // The sink chose what to answer: the proof must be of the record asked for, not of another that also holds.
  await check(answer.proof, `proof of seq ${seq}${epoch === '1' ? '' : ` of epoch ${epoch}`} of ${device}, as this sink served it`, { device, seq: Number(seq), epoch: Number(epoch) });
}

async function readFile(file) {
  if (!file) return;
  // Bounded before it is read whole: parseProofBytes refuses the same sizes.
  const bytes = new Uint8Array(await file.slice(0, (1 << 20) + 1).arrayBuffer());
  const input = file.size > bytes.length ? { ok: false, problem: 'is larger than 1048576 bytes, which no proof is' } : parseProofBytes(bytes);
  if (!input.ok) {
    verdict(`the file ${input.problem}`, 'refused');
    $('steps').replaceChildren();
    return;
  }
  await check(input.proof, `proof from the file ${file.name}`);
}

function start() {
  const params = new URLSearchParams(location.search);
  if (params.get('device')) $('device').value = params.get('device');
  if (params.get('seq')) $('seq').value = params.get('seq');
  if (params.get('epoch')) $('epoch').value = params.get('epoch');
  $('fetch-form').addEventListener('submit', (e) => void fetchProof(e));
  $('root-form').addEventListener('submit', (e) => e.preventDefault());
  $('use-node').addEventListener('click', useNode);
  restoreTypedRoots();
  $('file').addEventListener('change', () => void readFile($('file').files[0]));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void readFile(e.dataTransfer.files[0]);
  });
  $('steps').dataset.all = ALL_STEPS.join(',');
}

start();
