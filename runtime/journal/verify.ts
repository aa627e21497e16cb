// `fieldproof journal verify`: re-derive everything the journal claims from what it holds.
import { checkBatch, expectedPrev, headerHash, type BatchHeader } from '../../protocol/batch.ts';
import { coverProblem } from '../../protocol/prune-cover.ts';
import { recordProblem, type JournalRecord } from '../../protocol/records.ts';
import type { Journal } from './journal.ts';

export interface JournalVerification {
  ok: boolean;
  lastSeq: number;
  firstHeldSeq: number | null;
  recordsChecked: number;
  batchesChecked: number;
  prunedBatches: number;
  problems: string[];
}

export async function verifyJournal(journal: Journal): Promise<JournalVerification> {
  const s = journal.stats();
  const problems: string[] = [];
  const note = (p: string) => {
    if (problems.length < 50) problems.push(p);
  };

  // Records: contiguous seqs, well-formed, this device's.
  let expected: number | null = null;
  let firstHeld: number | null = null;
  let records = 0;
  try {
    for await (const { seq, line } of journal.records()) {
      records++;
      firstHeld ??= seq;
      if (expected !== null && seq !== expected) note(`records jump from seq ${expected - 1} to ${seq}`);
      expected = seq + 1;
      let rec: JournalRecord;
      try {
        rec = JSON.parse(line) as JournalRecord;
      } catch {
        note(`seq ${seq} is not valid JSON`);
        continue;
      }
      const problem = recordProblem(rec);
      if (problem) note(`seq ${seq}: ${problem}`);
      else if (rec.seq !== seq) note(`the record stored at seq ${seq} says seq ${rec.seq}`);
      else if (rec.device !== s.device) note(`seq ${seq} belongs to device ${rec.device}`);
    }
  } catch (err) {
    note(`records: ${(err as Error).message}`);
  }
  if (records > 0 && expected! - 1 !== s.lastSeq) note(`the last record held is seq ${expected! - 1}, but the journal's lastSeq is ${s.lastSeq}`);

  // Batches: numbered without holes, chained from the last acknowledged header, root and signature.
  let prevHash = journal.ackedHeaderHash;
  let prev: BatchHeader | null = null;
  let batches = 0;
  for (let b = s.ackedBatch + 1; b <= s.lastBatch; b++) {
    const stored = await journal.readBatch(b).catch((err: Error) => {
      note(`batch ${b}: ${err.message}`);
      return null;
    });
    if (!stored) {
      note(`batch ${b} is missing`);
      continue;
    }
    const h = stored.header;
    batches++;
    if (h.prev !== (prev ? expectedPrev(prev) : prevHash)) note(`batch ${b} does not chain to batch ${b - 1}`);
    if (prev && h.first !== prev.last + 1) note(`batch ${b} starts at seq ${h.first}, batch ${b - 1} ended at ${prev.last}`);
    if (stored.pruned) {
      // Dropped under the disk bound: the header stays, its records are gone by design, and once
      // its gap record is sealed that record must name it: the cover the uplink sends.
      const cover = await journal.pruneCover(b).catch(() => null);
      if (cover) {
        const problem = coverProblem(h, cover);
        if (problem) note(`batch ${b} is pruned, but its gap record does not cover it: ${problem}`);
      }
    } else {
      const check = checkBatch(h, stored.records);
      if (!check.ok) note(`batch ${b}: ${check.reason}`);
    }
    prev = h;
    prevHash = headerHash(h);
  }
  if (prev && prev.last !== s.sealedSeq) note(`the last batch ends at seq ${prev.last}, but the journal says ${s.sealedSeq} is sealed`);

  return { ok: problems.length === 0, lastSeq: s.lastSeq, firstHeldSeq: firstHeld, recordsChecked: records, batchesChecked: batches, prunedBatches: s.prunedBatches, problems };
}
