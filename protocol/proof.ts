// A proof that one record was in a signed batch, and (once anchored) that the batch header was in
// an anchor tree whose root went on chain. Checked entirely offline here; the on-chain lookup of
// `anchor.root` is the caller's (the CLI does it with --aptos-node).
import { canonicalize } from './canonical.ts';
import { headerHash, headerProblem, verifyHeaderSignature, type BatchHeader } from './batch.ts';
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
  module: string;
}

export interface RecordProof {
  record: JournalRecord;
  index: number;
  path: string[];
  header: BatchHeader;
  anchor?: AnchorProof;
}

export interface ProofCheck {
  ok: boolean;
  /** Each step checked, in order, with its outcome: what `fieldproof verify` prints. */
  steps: { step: string; ok: boolean; detail?: string }[];
  anchored: boolean;
}

const PROOF_FIELDS = new Set(['record', 'index', 'path', 'header', 'anchor']);
const ANCHOR_FIELDS = new Set(['root', 'index', 'size', 'path', 'chain', 'tx', 'version', 'module']);

function hexPath(path: unknown): Buffer[] | null {
  if (!Array.isArray(path) || !path.every((p) => isHex(p, 32))) return null;
  return path.map((p) => Buffer.from(p as string, 'hex'));
}

export function verifyRecordProof(proof: unknown): ProofCheck {
  const steps: ProofCheck['steps'] = [];
  const fail = (step: string, detail: string): ProofCheck => {
    steps.push({ step, ok: false, detail });
    return { ok: false, steps, anchored: false };
  };
  if (typeof proof !== 'object' || proof === null) return fail('shape', 'proof is not a JSON object');
  const p = proof as Record<string, unknown>;
  // Unknown fields are refused: a misspelt "anchor" must not pass as a proof that was never anchored.
  const unknown = Object.keys(p).find((k) => !PROOF_FIELDS.has(k));
  if (unknown) return fail('shape', `unknown field ${unknown}`);
  const rp = recordProblem(p.record);
  if (rp) return fail('record', rp);
  const hp = headerProblem(p.header);
  if (hp) return fail('header', hp);
  const record = p.record as JournalRecord;
  const header = p.header as BatchHeader;
  if (record.device !== header.device) return fail('record', `record device ${record.device} is not the header's ${header.device}`);
  if (record.seq < header.first || record.seq > header.last) return fail('record', `seq ${record.seq} is outside batch ${header.first}..${header.last}`);
  if (p.index !== record.seq - header.first) return fail('record', `index ${String(p.index)} does not match seq ${record.seq}`);
  const path = hexPath(p.path);
  if (!path) return fail('record', 'path must be a list of 64-digit hex hashes');
  const leaf = leafHash(canonicalize(record));
  if (!verifyInclusion(leaf, p.index as number, header.count, path, Buffer.from(header.root, 'hex'))) {
    return fail('record in batch', 'the record and path do not lead to header.root');
  }
  steps.push({ step: 'record in batch', ok: true, detail: `seq ${record.seq} is leaf ${String(p.index)} of ${header.count} under root ${header.root}` });
  if (!verifyHeaderSignature(header)) return fail('batch signature', 'the header signature does not verify');
  steps.push({ step: 'batch signature', ok: true, detail: `batch ${header.batch} signed by ${header.key}` });
  if (p.anchor === undefined) return { ok: true, steps, anchored: false };
  const a = p.anchor as Record<string, unknown>;
  if (typeof a !== 'object' || a === null || !isHex(a.root, 32) || !Number.isSafeInteger(a.index) || !Number.isSafeInteger(a.size)) {
    return fail('anchor', 'anchor needs root, index and size');
  }
  const unknownAnchor = Object.keys(a).find((k) => !ANCHOR_FIELDS.has(k));
  if (unknownAnchor) return fail('anchor', `unknown field anchor.${unknownAnchor}`);
  const apath = hexPath(a.path);
  if (!apath) return fail('anchor', 'anchor.path must be a list of 64-digit hex hashes');
  const hleaf = leafHash(Buffer.from(headerHash(header), 'hex'));
  if (!verifyInclusion(hleaf, a.index as number, a.size as number, apath, Buffer.from(a.root as string, 'hex'))) {
    return fail('batch in anchor', 'the header hash and anchor path do not lead to anchor.root');
  }
  steps.push({ step: 'batch in anchor', ok: true, detail: `header is leaf ${String(a.index)} of ${String(a.size)} under anchor root ${String(a.root)}` });
  return { ok: true, steps, anchored: true };
}
