// The cover of a pruned batch, as the uplink sends it beside the batch's header: the gap record
// that names the batch, its inclusion path, and the signed header of the later batch holding it
// (protocol/prune-cover.ts). A sink takes a header without records for nothing less.
import type { PruneCover } from '../../protocol/prune-cover.ts';
import { inclusionPath, leafHash } from '../../protocol/merkle.ts';
import type { GapRecord } from '../../protocol/records.ts';
import type { HeldBatches } from './held-batches.ts';
import type { JournalReader } from './reader.ts';
import type { JournalStateCell } from './state.ts';

export interface PruneCoversDeps {
  cell: JournalStateCell;
  held: HeldBatches;
  reader: JournalReader;
}

export class PruneCovers {
  private readonly deps: PruneCoversDeps;

  constructor(deps: PruneCoversDeps) {
    this.deps = deps;
  }

  /**
   * The cover of pruned batch `batch`, or null while there is none to send: the gap record naming
   * it is not written yet, or not sealed into a durable batch yet (it will be, by age at the latest).
   */
  async of(batch: number): Promise<PruneCover | null> {
    const { cell, held, reader } = this.deps;
    const seq = held.coverSeq(batch);
    const durable = cell.durable;
    if (!held.isPruned(batch) || seq === 0 || seq > durable.sealedSeq) return null;
    for (let b = batch + 1; b <= durable.lastBatch; b++) {
      const h = held.header(b);
      if (!h || seq < h.first) continue;
      if (seq > h.last) continue;
      const lines = await reader.readBatchLines(b);
      if (!lines || lines.pruned) return null;
      const index = seq - h.first;
      const path = inclusionPath(lines.lines.map((l) => leafHash(l)), index).map((p) => p.toString('hex'));
      return { header: h, record: JSON.parse(lines.lines[index]!) as GapRecord, index, path };
    }
    return null;
  }
}
