// A record proof checked in the browser, step by step, with WebCrypto (Ed25519, SHA-256): the
// offline steps of docs/spec/proofs.md, "Verifying a proof", in its order and with the same step
// names and reasons as `fieldproof verify` (protocol/proof.ts). Nothing of it runs on the sink: a
// sink that lies cannot make this page say a forged proof holds. It stops at the first step that
// fails; a proof is trusted only when the auditor typed the device key it must end at.
import { canonicalBytes } from './jcs.js';
import { fromHex, leafHash, sha256, toHex, verifyInclusion } from './merkle.js';

/** No tree this side of 2^64 leaves has a longer path. */
export const MAX_PATH = 64;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const MAX_STATE_CHARS = 256;
const PROOF_FIELDS = new Set(['record', 'index', 'path', 'header', 'anchor', 'pruned']);
/** Most batches one gap record may name (protocol/records.ts). */
const MAX_GAP_BATCHES = 4096;
const ANCHOR_FIELDS = new Set(['root', 'index', 'size', 'path', 'chain', 'tx', 'version', 'module', 'sender']);
const HEADER_FIELDS = new Set(['v', 'device', 'batch', 'first', 'last', 'count', 'root', 'prev', 'created', 'key', 'sig', 'clock', 'epoch']);
const CLOCK_FIELDS = new Set(['synced', 'source', 'offsetMs']);
const CLOCK_SOURCES = new Set(['chrony', 'timesyncd', 'unknown']);
/** Why a device started a new epoch (protocol/restart.ts). */
const RESTART_REASONS = ['journal_lost', 'journal_behind_sink', 'operator'];
const TX_HASH = /^0x[0-9a-f]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{1,64}$/;
const MODULE = /^0x[0-9a-fA-F]{1,64}::anchor$/;

export function isHex(s, bytes) {
  if (typeof s !== 'string' || s.length % 2 !== 0) return false;
  if (bytes !== undefined && s.length !== bytes * 2) return false;
  return /^[0-9a-f]*$/.test(s);
}

const isName = (s) => typeof s === 'string' && NAME.test(s);
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `clock` exactly as docs/spec/batches.md has it: {"synced", "source", "offsetMs"?}, nothing else. */
function clockProblem(c) {
  const shape = 'header.clock must be {"synced": boolean, "source": "chrony"|"timesyncd"|"unknown", "offsetMs"?: number}';
  if (!isObject(c)) return shape;
  for (const k of Object.keys(c)) if (!CLOCK_FIELDS.has(k)) return `header.clock has an unknown field ${k}`;
  if (typeof c.synced !== 'boolean' || typeof c.source !== 'string' || !CLOCK_SOURCES.has(c.source)) return shape;
  if (c.offsetMs !== undefined && (typeof c.offsetMs !== 'number' || !Number.isFinite(c.offsetMs))) return 'header.clock.offsetMs must be a finite number';
  return null;
}

/** Why `h` is not a batch header (docs/spec/batches.md), or null. */
export function headerProblem(h) {
  if (!isObject(h)) return 'header is not an object';
  if (h.v !== 1) return 'header.v must be 1';
  if (!isName(h.device)) return 'header.device is not a valid name';
  for (const f of ['batch', 'first', 'last', 'count', 'created']) {
    if (!Number.isSafeInteger(h[f]) || h[f] < (f === 'created' ? 0 : 1)) return `header.${f} must be a positive integer`;
  }
  if (h.last - h.first + 1 !== h.count) return 'header.count does not match first..last';
  if (!isHex(h.root, 32)) return 'header.root must be 64 lowercase hex digits';
  if (!isHex(h.prev, 32)) return 'header.prev must be 64 lowercase hex digits';
  if (!isHex(h.key, 32)) return 'header.key must be 64 lowercase hex digits';
  if (!isHex(h.sig, 64)) return 'header.sig must be 128 lowercase hex digits';
  // The two optional fields, each only in its exact shape.
  if (h.clock !== undefined) {
    const cp = clockProblem(h.clock);
    if (cp) return cp;
  }
  // Epoch 1 is written by leaving the field out, so that a header has one form only.
  if (h.epoch !== undefined && (!Number.isSafeInteger(h.epoch) || h.epoch < 2)) return 'header.epoch must be an integer >= 2 (absent means 1)';
  for (const k of Object.keys(h)) if (!HEADER_FIELDS.has(k)) return `header has an unknown field ${k}`;
  return null;
}

/** Why `r` is not a record (docs/spec/records.md, "Validity"), or null. */
export function recordProblem(r) {
  if (!isObject(r)) return 'record is not an object';
  if (r.v !== 1) return 'record.v must be 1';
  if (!isName(r.device)) return 'record.device is not a valid name';
  if (!Number.isSafeInteger(r.seq) || r.seq < 1) return 'record.seq must be a positive integer';
  if (r.kind === 'reading') {
    if (typeof r.sensor !== 'string' || typeof r.metric !== 'string' || typeof r.unit !== 'string') return 'reading needs sensor, metric and unit strings';
    if (!Number.isSafeInteger(r.ts)) return 'reading.ts must be integer milliseconds';
    if (r.value !== null && (typeof r.value !== 'number' || !Number.isFinite(r.value))) return 'reading.value must be a finite number or null';
    if (r.state !== undefined && (typeof r.state !== 'string' || r.state.length > MAX_STATE_CHARS)) return `reading.state must be a string of at most ${MAX_STATE_CHARS} characters`;
    const q = r.quality;
    if (typeof q !== 'object' || q === null || typeof q.score !== 'number' || !Array.isArray(q.flags)) return 'reading.quality must have score and flags';
    return null;
  }
  if (r.kind === 'gap') {
    if (!Number.isSafeInteger(r.dropped) || r.dropped < 0) return 'gap.dropped must be a non-negative integer';
    if (!Number.isSafeInteger(r.from) || !Number.isSafeInteger(r.to)) return 'gap.from and gap.to must be integer milliseconds';
    if (typeof r.reason !== 'string') return 'gap.reason must be a string';
    return gapBatchesProblem(r.batches);
  }
  if (r.kind === 'plan') {
    if (!isName(r.sensor)) return 'plan.sensor is not a valid name';
    if (!Number.isSafeInteger(r.ts)) return 'plan.ts must be integer milliseconds';
    return null;
  }
  if (r.kind === 'restart') return restartFieldsProblem(r);
  return `unknown record kind ${JSON.stringify(r.kind)}`;
}

/** A restart record's own fields (docs/spec/records.md, "A restart"; protocol/restart.ts). */
function restartFieldsProblem(r) {
  if (!Number.isSafeInteger(r.epoch) || r.epoch < 2) return 'restart.epoch must be an integer >= 2';
  if (r.seq !== 1) return 'restart.seq must be 1: a restart record opens its epoch';
  if (typeof r.reason !== 'string' || !RESTART_REASONS.includes(r.reason)) return `restart.reason must be one of ${RESTART_REASONS.join(', ')}`;
  if (!Number.isSafeInteger(r.ts)) return 'restart.ts must be integer milliseconds';
  if (!Number.isSafeInteger(r.rejournaled) || r.rejournaled < 0) return 'restart.rejournaled must be a non-negative integer';
  const f = r.from;
  if (!isObject(f)) return 'restart.from must be an object';
  if (Object.keys(f).some((k) => k !== 'epoch' && k !== 'batch' && k !== 'hash')) return 'restart.from has an unknown field';
  if (!Number.isSafeInteger(f.epoch) || f.epoch < 1 || f.epoch >= r.epoch) return 'restart.from.epoch must be an earlier epoch';
  if (!Number.isSafeInteger(f.batch) || f.batch < 1) return 'restart.from.batch must be a positive integer';
  if (!isHex(f.hash, 32)) return 'restart.from.hash must be 64 lowercase hex digits';
  return null;
}

/**
 * Where a restart record must sit: seq 1 of batch 1 of its own epoch, whose `prev` is the hash of
 * the batch the record names. Anything else would let a restart claim a join it did not sign.
 */
function restartPlacementProblem(record, header) {
  const epoch = header.epoch ?? 1;
  if (record.epoch !== epoch) return `the restart record opens epoch ${record.epoch} but its batch is of epoch ${epoch}`;
  if (header.batch !== 1 || header.first !== 1) return 'a restart record must be the first record of batch 1 of its epoch';
  if (header.prev !== record.from.hash) return "the restart record names a batch other than the one its batch's prev chains to";
  return null;
}

/** What is wrong with a gap record's `batches`, or null (absent is fine). */
function gapBatchesProblem(batches) {
  if (batches === undefined) return null;
  if (!Array.isArray(batches) || batches.length === 0 || batches.length > MAX_GAP_BATCHES) return `gap.batches must be a list of 1 to ${MAX_GAP_BATCHES} batches`;
  for (const b of batches) {
    if (!isObject(b)) return 'gap.batches holds {"batch","hash"} objects';
    if (Object.keys(b).length !== 2 || !Number.isSafeInteger(b.batch) || b.batch < 1 || !isHex(b.hash, 32)) {
      return 'each of gap.batches is exactly {"batch": integer >= 1, "hash": 64 lowercase hex}';
    }
  }
  return null;
}

/**
 * A drop proof's `pruned`: the dropped batch's header, signed by the same key as the gap record's
 * batch, earlier in the chain, named with its header hash by that gap record (reason disk_full).
 * Returns the header, or why it does not hold.
 */
async function droppedProblem(pruned, proof) {
  if (!isObject(pruned) || Object.keys(pruned).length !== 1 || !('header' in pruned)) return 'pruned must be exactly {"header": {...}}';
  const hp = headerProblem(pruned.header);
  if (hp) return `pruned.${hp}`;
  const p = pruned.header;
  const cover = proof.header;
  const rec = proof.record;
  if (p.key !== cover.key || p.device !== cover.device) return 'the dropped batch is not of the same device and key as the gap record';
  if (!(await headerSignatureHolds(p))) return 'the dropped batch header signature does not verify';
  // batch numbers start again in each recovery epoch: "after" means later in the same chain
  if ((p.epoch ?? 1) !== (cover.epoch ?? 1)) return `the gap record is in epoch ${cover.epoch ?? 1}, not in the dropped batch's epoch ${p.epoch ?? 1}`;
  if (p.batch >= cover.batch) return `the gap record is in batch ${cover.batch}, not after the dropped batch ${p.batch}`;
  if (rec.kind !== 'gap' || rec.reason !== 'disk_full') return 'the record is not a gap record with reason disk_full';
  const hash = await headerHash(p);
  if (!rec.batches?.some((b) => b.batch === p.batch && b.hash === hash)) return `the gap record does not name batch ${p.batch} with this header hash: a forged prune`;
  return p;
}

/** What a proof whose links hold is a proof of: a seq (or a drop's seqs) of an epoch of a device. */
function provedRecord(header, record, dropped) {
  const seqs = dropped ? `seq ${dropped.first}..${dropped.last} (dropped)` : `seq ${record.seq}`;
  return `${seqs} of epoch ${header.epoch ?? 1} of ${header.device}`;
}

/**
 * Why the proof is not of the record asked for ({device, seq, epoch}, each optional), or null: a
 * sink asked for seq 9 could otherwise answer with the honest proof of another seq, epoch or device.
 */
function askedProblem(asked, header, record, dropped) {
  const seqHeld = asked.seq === undefined || (dropped ? dropped.first <= asked.seq && asked.seq <= dropped.last : record.seq === asked.seq);
  if ((asked.device === undefined || asked.device === header.device) && (asked.epoch === undefined || asked.epoch === (header.epoch ?? 1)) && seqHeld) return null;
  const wanted = [asked.seq !== undefined ? `seq ${asked.seq}` : 'a record', asked.epoch !== undefined ? `of epoch ${asked.epoch}` : '', asked.device !== undefined ? `of ${asked.device}` : ''];
  return `the proof is of ${provedRecord(header, record, dropped)}, not of ${wanted.filter(Boolean).join(' ')} as asked`;
}

function anchorProblem(a) {
  if (!isObject(a)) return 'anchor is not an object';
  const unknown = Object.keys(a).find((k) => !ANCHOR_FIELDS.has(k));
  if (unknown) return `unknown field anchor.${unknown}`;
  if (!isHex(a.root, 32)) return 'anchor.root must be 64 lowercase hex digits';
  if (!Number.isSafeInteger(a.size) || a.size < 1) return 'anchor.size must be a positive integer';
  if (!Number.isSafeInteger(a.index) || a.index < 0 || a.index >= a.size) return 'anchor.index must be an integer below anchor.size';
  if (!hexPath(a.path)) return `anchor.path must be a list of at most ${MAX_PATH} 64-digit hex hashes`;
  if (typeof a.chain !== 'string' || a.chain.length === 0 || a.chain.length > 64) return 'anchor.chain must be a chain name';
  if (typeof a.tx !== 'string' || !TX_HASH.test(a.tx)) return 'anchor.tx must be 0x and 64 lowercase hex digits';
  if (!Number.isSafeInteger(a.version) || a.version < 0) return 'anchor.version must be a ledger version';
  if (typeof a.module !== 'string' || !MODULE.test(a.module)) return 'anchor.module must be <account address>::anchor';
  if (a.sender !== undefined && (typeof a.sender !== 'string' || !ADDRESS.test(a.sender))) return 'anchor.sender must be an account address';
  return null;
}

function hexPath(path) {
  if (!Array.isArray(path) || path.length > MAX_PATH || !path.every((p) => isHex(p, 32))) return null;
  return path.map(fromHex);
}

/** Ed25519 over the header's canonical bytes without `sig`, with `header.key`. */
export async function headerSignatureHolds(header) {
  const { sig, ...unsigned } = header;
  try {
    const key = await crypto.subtle.importKey('raw', fromHex(header.key), { name: 'Ed25519' }, false, ['verify']);
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, fromHex(sig), canonicalBytes(unsigned));
  } catch {
    return false; // a key that is no curve point verifies nothing
  }
}

/** SHA-256 of the header's canonical bytes, signature included: the anchor tree's leaf data. */
export async function headerHash(header) {
  return toHex(await sha256(canonicalBytes(header)));
}

/**
 * The offline steps, cheapest signed thing first, up to the first that fails:
 * {ok, trusted, anchored, steps: [{step, ok, detail}]}. `deviceKey` is the key the auditor typed
 * (64 hex digits, any case), never one from the proof; `asked` the record the auditor asked the
 * sink for ({device, seq, epoch}), which the proof must be of.
 */
export async function checkProof(proof, opts = {}) {
  const steps = [];
  let dropped;
  const done = (ok, anchored) => ({ ok, trusted: ok && opts.deviceKey !== undefined, anchored, steps, ...(ok && dropped ? { dropped } : {}) });
  const fail = (step, detail) => {
    steps.push({ step, ok: false, detail });
    return done(false, false);
  };
  if (!isObject(proof)) return fail('shape', 'proof is not a JSON object');
  const unknown = Object.keys(proof).find((k) => !PROOF_FIELDS.has(k));
  if (unknown) return fail('shape', `unknown field ${unknown}`);

  const hp = headerProblem(proof.header);
  if (hp) return fail('header', hp);
  const header = proof.header;
  if (!(await headerSignatureHolds(header))) return fail('batch signature', `the header signature does not verify with header.key ${header.key}`);
  steps.push({ step: 'batch signature', ok: true, detail: `batch ${header.batch} signed by ${header.key}` });

  if (opts.deviceKey !== undefined) {
    const given = opts.deviceKey.toLowerCase();
    if (header.key !== given) return fail('given key', `the batch was signed by ${header.key}, not by the device key given (${given})`);
    steps.push({ step: 'given key', ok: true, detail: `header.key is the device key given, for device ${header.device}` });
  }

  const rp = recordProblem(proof.record);
  if (rp) return fail('record', rp);
  const record = proof.record;
  if (record.device !== header.device) return fail('record', `record device ${record.device} is not the header's ${header.device}`);
  if (record.seq < header.first || record.seq > header.last) return fail('record', `seq ${record.seq} is outside batch ${header.first}..${header.last}`);
  const index = record.seq - header.first;
  if (proof.index !== index) return fail('record', `index ${JSON.stringify(proof.index)} does not match seq ${record.seq}`);
  const path = hexPath(proof.path);
  if (!path) return fail('record', `path must be a list of at most ${MAX_PATH} 64-digit hex hashes`);
  // A restart record proves where a recovery epoch joins the earlier chain only where it sits right.
  const placement = record.kind === 'restart' ? restartPlacementProblem(record, header) : null;
  if (placement) return fail('record', placement);
  if (!(await verifyInclusion(await leafHash(canonicalBytes(record)), index, header.count, path, header.root))) {
    return fail('record in batch', 'the record and path do not lead to header.root');
  }
  steps.push({ step: 'record in batch', ok: true, detail: `seq ${record.seq} is leaf ${index} of ${header.count} under root ${header.root}` });

  if (proof.pruned !== undefined) {
    const dp = await droppedProblem(proof.pruned, proof);
    if (typeof dp === 'string') return fail('dropped', dp);
    dropped = dp;
    steps.push({ step: 'dropped', ok: true, detail: `batch ${dropped.batch} (seq ${dropped.first}..${dropped.last}) was dropped by the device at its disk bound, as its signed gap record seq ${record.seq} says` });
  }

  if (opts.asked !== undefined) {
    const problem = askedProblem(opts.asked, header, record, dropped);
    if (problem) return fail('record asked', problem);
    steps.push({ step: 'record asked', ok: true, detail: `the proof is of ${provedRecord(header, record, dropped)}, as asked` });
  }

  if (proof.anchor === undefined) return done(true, false);
  const anchor = proof.anchor;
  const ap = anchorProblem(anchor);
  if (ap) return fail('anchor', ap);
  const hleaf = await leafHash(fromHex(await headerHash(header)));
  if (!(await verifyInclusion(hleaf, anchor.index, anchor.size, hexPath(anchor.path), anchor.root))) {
    return fail('batch in anchor', 'the header hash and anchor path do not lead to anchor.root');
  }
  steps.push({ step: 'batch in anchor', ok: true, detail: `header is leaf ${anchor.index} of ${anchor.size} under anchor root ${anchor.root}` });
  return done(true, true);
}
