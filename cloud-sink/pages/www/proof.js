// The proof page: fetch a proof from this sink (device and seq) or read a dropped file, then check
// it here, step by step, against the device key the auditor typed (proof-check.js). The sink is
// only the messenger: the verdict is this page's.
import { $, el, getJson } from './dom.js';
import { checkProof, isHex, parseProofBytes } from './proof-check.js';

const ALL_STEPS = ['shape', 'header', 'batch signature', 'given key', 'record', 'record in batch', 'anchor', 'batch in anchor'];

function verdict(text, kind) {
  $('verdict').textContent = text;
  $('verdict').className = kind;
}

/** The typed key, undefined when none, or null when it is no key (said on the page). */
function typedKey() {
  const raw = $('device-key').value.trim();
  if (raw === '') return undefined;
  if (!isHex(raw.toLowerCase(), 32)) {
    verdict('the device key must be an Ed25519 public key in 64 hex digits', 'refused');
    $('steps').replaceChildren();
    return null;
  }
  return raw.toLowerCase();
}

async function check(proof, source) {
  const deviceKey = typedKey();
  if (deviceKey === null) return;
  $('source').textContent = source;
  const result = await checkProof(proof, deviceKey === undefined ? {} : { deviceKey });
  const items = result.steps.map((s) => el('li', { class: s.ok ? 'pass' : 'fail', 'data-step': s.step },
    el('span', { class: 'name', text: `${s.ok ? 'passed' : 'failed'}: ${s.step}` }), el('span', { class: 'detail', text: s.detail ?? '' })));
  if (result.ok && !result.anchored) {
    items.push(el('li', { class: 'unchecked', 'data-step': 'batch in anchor' }, el('span', { class: 'name', text: 'not yet: batch in anchor' }),
      el('span', { class: 'detail', text: 'the batch is not anchored yet; ask the sink again after its next anchor' })));
  }
  if (result.ok && result.anchored) {
    const a = proof.anchor;
    items.push(el('li', { class: 'unchecked', 'data-step': 'on chain' }, el('span', { class: 'name', text: 'not checked here: on chain' }),
      el('span', { class: 'detail', text: `that transaction ${a.tx} on ${a.chain} recorded root ${a.root}, sent by the operator's account: fieldproof verify PROOF.json --anchor-account ADDR --aptos-node URL checks it` })));
  }
  $('steps').replaceChildren(...items);
  $('steps').dataset.done = String(Date.now());
  if (!result.ok) {
    const last = result.steps.at(-1);
    verdict(`refused at "${last.step}": ${last.detail}`, 'refused');
  } else if (result.trusted) {
    verdict(`holds: it ends at the device key you gave${result.anchored ? ', and its batch is in an anchor (the chain is not checked here)' : ' (not anchored yet)'}`, 'trusted');
  } else {
    verdict(`consistent, but no trust root given: it is signed by the key it carries (${proof.header.key}), which anyone can make; type the device key`, 'consistent');
  }
}

async function fetchProof(event) {
  event.preventDefault();
  const device = $('device').value.trim();
  const seq = $('seq').value.trim();
  if (!device || !/^[1-9][0-9]*$/.test(seq)) {
    verdict('give a device and a seq (a positive integer)', 'refused');
    return;
  }
  const { status, body } = await getJson(`/v1/proofs/${encodeURIComponent(device)}/${seq}`);
  if (status !== 200) {
    verdict(`the sink has no proof: ${body.error ?? status}`, 'refused');
    $('steps').replaceChildren();
    return;
  }
  await check(body, `proof of seq ${seq} of ${device}, as this sink served it`);
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
  $('fetch-form').addEventListener('submit', (e) => void fetchProof(e));
  $('root-form').addEventListener('submit', (e) => e.preventDefault());
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
