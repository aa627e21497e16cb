// A pruned batch's cover: the device's own signed word that it dropped the batch at its disk
// bound. It is the gap record (kind gap, reason disk_full) that names the batch's number and
// header hash, with its inclusion path in a later batch whose header the same key signed. A sink
// holds a batch as pruned only with such a cover, and a drop proof is one (docs/spec/batches.md,
// "Pruned batches"): a `pruned` flag alone is signed by nobody.
import { epochOf, headerHash, headerProblem, recordLeaf, verifyHeaderSignature, type BatchHeader } from './batch.ts';
import { isHex } from './hash.ts';
import { verifyInclusion } from './merkle.ts';
import { recordProblem, type GapRecord } from './records.ts';

export interface PruneCover {
  /** the signed header of the later batch that holds the gap record */
  header: BatchHeader;
  /** the gap record naming the pruned batch */
  record: GapRecord;
  /** the record's leaf index in that batch */
  index: number;
  /** its inclusion path to `header.root`, 64-hex hashes */
  path: string[];
}

const COVER_FIELDS = ['header', 'index', 'path', 'record'];
/** No batch tree this side of 2^64 records has a longer path. */
const MAX_COVER_PATH = 64;

/**
 * Why `cover` does not show that the device dropped `pruned` at its disk bound, or null when it
 * does. `pruned` is a header already checked and verified; the cover's header must be signed by
 * the same key, of the same device, later in its chain. Cheapest signed thing first.
 */
export function coverProblem(pruned: BatchHeader, cover: unknown): string | null {
  if (cover === undefined || cover === null) return 'no signed gap record of the device covers it';
  if (typeof cover !== 'object' || Array.isArray(cover)) return 'cover is not an object';
  const c = cover as Record<string, unknown>;
  const keys = Object.keys(c).sort();
  if (keys.length !== COVER_FIELDS.length || keys.some((k, i) => k !== COVER_FIELDS[i])) return `cover has exactly the members ${COVER_FIELDS.join(', ')}`;
  const hp = headerProblem(c.header);
  if (hp) return `cover.${hp}`;
  const h = c.header as BatchHeader;
  if (h.device !== pruned.device || h.key !== pruned.key) return 'the cover is not signed by the same device and key as the pruned batch';
  // batch numbers start again in each recovery epoch: "later" means later in the same chain
  if (epochOf(h) !== epochOf(pruned)) return `the cover is of epoch ${epochOf(h)}, not of the pruned batch's epoch ${epochOf(pruned)}`;
  if (h.batch <= pruned.batch) return `the cover is batch ${h.batch}, not a batch after the pruned batch ${pruned.batch}`;
  if (!verifyHeaderSignature(h)) return 'the cover header signature does not verify';
  const rp = recordProblem(c.record);
  if (rp) return `cover.${rp}`;
  const rec = c.record as GapRecord;
  if (rec.kind !== 'gap' || rec.reason !== 'disk_full') return 'the cover record is not a gap record with reason disk_full';
  if (rec.device !== h.device) return 'the cover record is of another device';
  const hash = headerHash(pruned);
  if (!rec.batches?.some((b) => b.batch === pruned.batch && b.hash === hash)) return `the gap record does not name batch ${pruned.batch} with this header hash`;
  if (rec.seq < h.first || rec.seq > h.last || c.index !== rec.seq - h.first) return 'cover.index does not place the gap record in its batch';
  const path = c.path;
  if (!Array.isArray(path) || path.length > MAX_COVER_PATH || !path.every((p) => isHex(p, 32))) return `cover.path must be at most ${MAX_COVER_PATH} 64-hex hashes`;
  const leaf = recordLeaf(rec);
  if (typeof leaf === 'string') return `cover.record: ${leaf}`;
  if (!verifyInclusion(leaf, c.index, h.count, path.map((p) => Buffer.from(p as string, 'hex')), Buffer.from(h.root, 'hex'))) {
    return 'the gap record and cover.path do not lead to the cover header\'s root';
  }
  return null;
}
