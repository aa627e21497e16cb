// A proof that one record was in a signed batch, and (once anchored) that the batch header was in
// an anchor tree whose root went on chain. Checked entirely offline here, cheapest signed thing
// first: the header and its signature before any work on data no key has vouched for; then, when
// the caller gave the device's key, that the header's key is that one; then the record's path and
// the anchor's. The on-chain checks are the caller's (docs/spec/proofs.md, "Verifying a proof").
import { restartPlacementProblem, type RestartRecord } from './restart.ts';
import { epochOf, headerHash, headerProblem, recordLeaf, verifyHeaderSignature, type BatchHeader } from './batch.ts';
import { isHex } from './hash.ts';
import { leafHash, verifyInclusion } from './merkle.ts';
import { recordProblem, type JournalRecord } from './records.ts';

export interface AnchorProof {
  root: string;
  index: number;
  size: number;
  path: string[];
  chain: string;
  tx: string;
  version: number;
  /** `0x<64 hex>::anchor`: a hint, checked against the transaction, never believed */
  module: string;
  /** the account that sent `tx` (long form): a hint like `module`; absent from older proofs */
  sender?: string;
}

export interface RecordProof {
  record: JournalRecord;
  index: number;
  path: string[];
  header: BatchHeader;
  anchor?: AnchorProof;
  /**
   * A drop proof: the records of this batch were dropped by the device at its disk bound, and
   * `record` is the signed gap record that names it (docs/spec/proofs.md, "Drop proofs").
   */
  pruned?: { header: BatchHeader };
}

export interface ProofStep {
  step: string;
  ok: boolean;
  detail?: string;
}

export interface ProofCheck {
  ok: boolean;
  /** Each step checked, in order, up to the first that failed: what `fieldproof verify` prints. */
  steps: ProofStep[];
  anchored: boolean;
  /** a drop proof that holds: the pruned batch (its header) the device said it dropped */
  dropped?: BatchHeader;
}

export interface ProofCheckOptions {
  /** the device's public key as the caller obtained it, not from the proof: header.key must be it */
  deviceKey?: string;
  /** the record the caller asked for, not the one the proof says it is: the proof must be of it */
  asked?: AskedRecord;
}

/** A record as an auditor names it: its device, its seq within its recovery epoch. Each part optional. */
export interface AskedRecord {
  device?: string;
  seq?: number;
  epoch?: number;
}

/** No tree this side of 2^64 leaves has a longer path. */
export const MAX_PATH = 64;

const PROOF_FIELDS = new Set(['record', 'index', 'path', 'header', 'anchor', 'pruned']);
const ANCHOR_FIELDS = new Set(['root', 'index', 'size', 'path', 'chain', 'tx', 'version', 'module', 'sender']);
const TX_HASH = /^0x[0-9a-f]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{1,64}$/;
const MODULE = /^0x[0-9a-fA-F]{1,64}::anchor$/;

function hexPath(path: unknown): Buffer[] | null {
  if (!Array.isArray(path) || path.length > MAX_PATH || !path.every((p) => isHex(p, 32))) return null;
  return path.map((p) => Buffer.from(p as string, 'hex'));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function verifyRecordProof(proof: unknown, opts: ProofCheckOptions = {}): ProofCheck {
  const steps: ProofStep[] = [];
  const fail = (step: string, detail: string): ProofCheck => {
    steps.push({ step, ok: false, detail });
    return { ok: false, steps, anchored: false };
  };
  if (!isObject(proof)) return fail('shape', 'proof is not a JSON object');
  // Unknown fields are refused: a misspelt "anchor" must not pass as a proof that was never anchored.
  const unknown = Object.keys(proof).find((k) => !PROOF_FIELDS.has(k));
  if (unknown) return fail('shape', `unknown field ${unknown}`);

  const hp = headerProblem(proof.header);
  if (hp) return fail('header', hp);
  const header = proof.header as BatchHeader;
  if (!verifyHeaderSignature(header)) return fail('batch signature', `the header signature does not verify with header.key ${header.key}`);
  steps.push({ step: 'batch signature', ok: true, detail: `batch ${header.batch} signed by ${header.key}` });

  if (opts.deviceKey !== undefined) {
    const given = opts.deviceKey.toLowerCase();
    if (header.key !== given) return fail('given key', `the batch was signed by ${header.key}, not by the device key given (${given})`);
    steps.push({ step: 'given key', ok: true, detail: `header.key is the device key given, for device ${header.device}` });
  }

  const rp = recordProblem(proof.record);
  if (rp) return fail('record', rp);
  const record = proof.record as JournalRecord;
  if (record.device !== header.device) return fail('record', `record device ${record.device} is not the header's ${header.device}`);
  if (record.seq < header.first || record.seq > header.last) return fail('record', `seq ${record.seq} is outside batch ${header.first}..${header.last}`);
  const index = record.seq - header.first;
  if (proof.index !== index) return fail('record', `index ${JSON.stringify(proof.index)} does not match seq ${record.seq}`);
  const path = hexPath(proof.path);
  if (!path) return fail('record', `path must be a list of at most ${MAX_PATH} 64-digit hex hashes`);
  // A restart record proves where a recovery epoch joins the earlier chain only where it sits right.
  const placement = record.kind === 'restart' ? restartPlacementProblem(record as unknown as RestartRecord, header) : null;
  if (placement) return fail('record', placement);
  const leaf = recordLeaf(record);
  if (typeof leaf === 'string') return fail('record', leaf);
  if (!verifyInclusion(leaf, index, header.count, path, Buffer.from(header.root, 'hex'))) {
    return fail('record in batch', 'the record and path do not lead to header.root');
  }
  steps.push({ step: 'record in batch', ok: true, detail: `seq ${record.seq} is leaf ${index} of ${header.count} under root ${header.root}` });

  let dropped: BatchHeader | undefined;
  if (proof.pruned !== undefined) {
    const dp = droppedProblem(proof.pruned, proof);
    if (typeof dp === 'string') return fail('dropped', dp);
    dropped = dp;
    steps.push({ step: 'dropped', ok: true, detail: `batch ${dropped.batch} (seq ${dropped.first}..${dropped.last}) was dropped by the device at its disk bound, as its signed gap record seq ${record.seq} says` });
  }
  if (opts.asked !== undefined) {
    const problem = askedProblem(opts.asked, header, record, dropped);
    if (problem) return fail('record asked', problem);
    steps.push({ step: 'record asked', ok: true, detail: `the proof is of ${provedRecord(header, record, dropped)}, as asked` });
  }
  const done = (anchored: boolean): ProofCheck => ({ ok: true, steps, anchored, ...(dropped ? { dropped } : {}) });

  if (proof.anchor === undefined) return done(false);
  const a = proof.anchor;
  const ap = anchorProblem(a);
  if (ap) return fail('anchor', ap);
  const anchor = a as unknown as AnchorProof;
  const hleaf = leafHash(Buffer.from(headerHash(header), 'hex'));
  if (!verifyInclusion(hleaf, anchor.index, anchor.size, hexPath(anchor.path)!, Buffer.from(anchor.root, 'hex'))) {
    return fail('batch in anchor', 'the header hash and anchor path do not lead to anchor.root');
  }
  steps.push({ step: 'batch in anchor', ok: true, detail: `header is leaf ${anchor.index} of ${anchor.size} under anchor root ${anchor.root}` });
  return done(true);
}

/** What a proof whose links hold is a proof of: a seq (or a drop's seqs) of an epoch of a device. */
function provedRecord(header: BatchHeader, record: JournalRecord, dropped: BatchHeader | undefined): string {
  const seqs = dropped ? `seq ${dropped.first}..${dropped.last} (dropped)` : `seq ${record.seq}`;
  return `${seqs} of epoch ${epochOf(header)} of ${header.device}`;
}

/**
 * Why the proof is not of the record the caller asked for, or null. A sink asked for seq 9 could
 * otherwise answer with the honest proof of another seq, epoch or device, and every link hold.
 */
function askedProblem(asked: AskedRecord, header: BatchHeader, record: JournalRecord, dropped: BatchHeader | undefined): string | null {
  const seqHeld = asked.seq === undefined || (dropped ? dropped.first <= asked.seq && asked.seq <= dropped.last : record.seq === asked.seq);
  if ((asked.device === undefined || asked.device === header.device) && (asked.epoch === undefined || asked.epoch === epochOf(header)) && seqHeld) return null;
  const wanted = [asked.seq !== undefined ? `seq ${asked.seq}` : 'a record', asked.epoch !== undefined ? `of epoch ${asked.epoch}` : '', asked.device !== undefined ? `of ${asked.device}` : ''];
  return `the proof is of ${provedRecord(header, record, dropped)}, not of ${wanted.filter(Boolean).join(' ')} as asked`;
}

/**
 * A drop proof's `pruned`: the dropped batch's header, signed by the same key as the gap record's
 * batch, earlier in the chain, named with its header hash by that gap record (reason disk_full).
 * The gap record's own path was checked before. Returns the header, or why it does not hold.
 */
function droppedProblem(pruned: unknown, proof: Record<string, unknown>): BatchHeader | string {
  if (!isObject(pruned) || Object.keys(pruned).length !== 1 || !('header' in pruned)) return 'pruned must be exactly {"header": {...}}';
  const hp = headerProblem(pruned.header);
  if (hp) return `pruned.${hp}`;
  const p = pruned.header as BatchHeader;
  const cover = proof.header as BatchHeader;
  const rec = proof.record as JournalRecord;
  if (p.key !== cover.key || p.device !== cover.device) return 'the dropped batch is not of the same device and key as the gap record';
  if (!verifyHeaderSignature(p)) return 'the dropped batch header signature does not verify';
  // batch numbers start again in each recovery epoch: "after" means later in the same chain
  if (epochOf(p) !== epochOf(cover)) return `the gap record is in epoch ${epochOf(cover)}, not in the dropped batch's epoch ${epochOf(p)}`;
  if (p.batch >= cover.batch) return `the gap record is in batch ${cover.batch}, not after the dropped batch ${p.batch}`;
  if (rec.kind !== 'gap' || rec.reason !== 'disk_full') return 'the record is not a gap record with reason disk_full';
  const hash = headerHash(p);
  if (!rec.batches?.some((b) => b.batch === p.batch && b.hash === hash)) return `the gap record does not name batch ${p.batch} with this header hash: a forged prune`;
  return p;
}

/** Why `a` is not an anchor of the proof format, or null. Its form only: what it says, the chain checks. */
function anchorProblem(a: unknown): string | null {
  if (!isObject(a)) return 'anchor is not an object';
  const unknown = Object.keys(a).find((k) => !ANCHOR_FIELDS.has(k));
  if (unknown) return `unknown field anchor.${unknown}`;
  if (!isHex(a.root, 32)) return 'anchor.root must be 64 lowercase hex digits';
  if (!Number.isSafeInteger(a.size) || (a.size as number) < 1) return 'anchor.size must be a positive integer';
  if (!Number.isSafeInteger(a.index) || (a.index as number) < 0 || (a.index as number) >= (a.size as number)) return 'anchor.index must be an integer below anchor.size';
  if (!hexPath(a.path)) return `anchor.path must be a list of at most ${MAX_PATH} 64-digit hex hashes`;
  if (typeof a.chain !== 'string' || a.chain.length === 0 || a.chain.length > 64) return 'anchor.chain must be a chain name';
  if (typeof a.tx !== 'string' || !TX_HASH.test(a.tx)) return 'anchor.tx must be 0x and 64 lowercase hex digits';
  if (!Number.isSafeInteger(a.version) || (a.version as number) < 0) return 'anchor.version must be a ledger version';
  if (typeof a.module !== 'string' || !MODULE.test(a.module)) return 'anchor.module must be <account address>::anchor';
  if (a.sender !== undefined && (typeof a.sender !== 'string' || !ADDRESS.test(a.sender))) return 'anchor.sender must be an account address';
  return null;
}
