// Record proofs (the format of docs/spec/proofs.md): the record, its path to the batch root, the
// signed header, and once the batch is anchored, the header's path to the anchor root and the
// transaction that recorded it. For a record the device dropped at its disk bound, no such proof
// can exist: the answer is the proof of the signed gap record that names its batch (a drop proof).
import { epochOf, headerHash } from '../protocol/batch.ts';
import type { AnchorProof, RecordProof } from '../protocol/proof.ts';
import { leafHash, levelsPath } from '../protocol/merkle.ts';
import type { JournalRecord } from '../protocol/records.ts';
import { anchorLeaves } from './anchor/tree.ts';
import { TreeCache } from './tree-cache.ts';
import type { SinkStore, StoredBatchRow } from './store/types.ts';

export type ProofLookup = { ok: true; proof: RecordProof } | { ok: false; status: number; error: string; code: string };

export class ProofService {
  /** The trees of the last batches and anchors asked about: proofs of one tree come in runs. */
  private readonly trees: TreeCache;

  private readonly store: SinkStore;

  constructor(store: SinkStore, trees: TreeCache = new TreeCache()) {
    this.store = store;
    this.trees = trees;
  }

  /** A record is (device, epoch, seq): seqs count from 1 again in each recovery epoch. */
  async proof(device: string, seq: number, epoch = 1): Promise<ProofLookup> {
    const row = await this.store.batchForSeq(device, seq, epoch);
    if (!row) {
      const head = await this.store.head(device);
      const held = head.epoch === epoch && head.batch > 0 ? `the sink holds seq 1..${head.last} of epoch ${epoch} of ${device}, not ${seq}` : `the sink holds no seq ${seq} of epoch ${epoch} of ${device}`;
      return { ok: false, status: 404, code: 'not_found', error: head.batch === 0 && head.epoch === 1 ? `the sink holds nothing of device ${device}` : held };
    }
    const h = row.header;
    if (row.pruned) return this.dropProof(row, seq);
    const lines = await this.store.records(device, h.batch, epoch);
    const index = seq - h.first;
    // The batch's tree, kept for the next proof of it: a batch of a hundred thousand records is
    // hashed once, not once for each record asked about.
    const levels = await this.trees.levels(`batch ${row.hash}`, async () => lines.map((l) => leafHash(l)));
    const proof: RecordProof = {
      record: JSON.parse(lines[index]!) as JournalRecord,
      index,
      path: levelsPath(levels, index).map((b) => b.toString('hex')),
      header: h,
    };
    const anchor = await this.anchorOf(row);
    if (anchor) proof.anchor = anchor;
    return { ok: true, proof };
  }

  /**
   * Seq `seq` of a pruned batch: the proof of the gap record that names the batch (from the cover
   * the sink checked on arrival), anchored as the batch holding that record is, and the pruned
   * header itself. A batch stored as pruned before covers existed has no signed word to show.
   */
  private async dropProof(row: StoredBatchRow, seq: number): Promise<ProofLookup> {
    const h = row.header;
    if (!row.cover) {
      return { ok: false, status: 404, code: 'dropped', error: `seq ${seq} of ${h.device} was dropped on the device before it was sent (batch ${h.batch}, seq ${h.first}..${h.last}, is pruned; no signed gap record is held for it)` };
    }
    const c = row.cover;
    const proof: RecordProof = { record: c.record, index: c.index, path: c.path, header: c.header, pruned: { header: h } };
    const coverRow = await this.store.batch(h.device, c.header.batch, epochOf(c.header));
    if (coverRow && coverRow.hash === headerHash(c.header)) {
      const anchor = await this.anchorOf(coverRow);
      if (anchor) proof.anchor = anchor;
    }
    return { ok: true, proof };
  }

  private async anchorOf(row: StoredBatchRow): Promise<AnchorProof | null> {
    if (row.anchorId === null || row.anchorIndex === null) return null;
    const a = await this.store.anchor(row.anchorId);
    if (!a || a.state !== 'committed' || !a.tx || !a.chain || !a.module || a.version === null) return null;
    const anchor: AnchorProof = {
      root: a.root, index: row.anchorIndex, size: a.size,
      path: levelsPath(await this.trees.levels(`anchor ${a.id}`, async () => anchorLeaves(await this.store.anchorLeaves(a.id))), row.anchorIndex).map((b) => b.toString('hex')),
      chain: a.chain, tx: a.tx, version: a.version, module: a.module,
    };
    // A hint for the verifier (whose account to check against), which it checks, never believes.
    if (a.sender) anchor.sender = a.sender;
    return anchor;
  }
}
