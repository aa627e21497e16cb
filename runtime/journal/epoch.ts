// Starting a recovery epoch (docs/spec/batches.md#epochs). The journal learned (from the sink's
// head, signed by this device's own key) that the chain the sink holds is not the one it holds: it
// was lost, or restored from an older copy. Its numbers cannot continue without signing a second
// story under numbers already used, so it starts a new chain: seqs and batches from 1 again, under
// the next epoch, joined to the last batch it can prove. What it held beyond the batches the sink
// holds as they are is carried into the new epoch, after the restart record, so no reading is lost;
// the old chain's conflicting batches are never sent. One synced write replaces the one journal
// with the other, so a crash leaves either.
import type { Level } from 'level';
import { headerHash, signHeader, type BatchHeader, type ClockState } from '../../protocol/batch.ts';
import { canonicalize } from '../../protocol/canonical.ts';
import { leafHash, rootFromLeafHashes } from '../../protocol/merkle.ts';
import { restartRecord, type ProvableBatch, type RestartReason } from '../../protocol/restart.ts';
import type { DeviceKey } from '../../protocol/signature.ts';
import { chunkKey, encodeIndex, headerKey, indexKey, RANGE, STATE_KEY, type JournalState, type WriteOp } from './layout.ts';

export interface EpochRequest {
  reason: RestartReason;
  /** the last batch of the earlier chain the device can prove (the sink's head, checked) */
  from: ProvableBatch;
  /** the journal's batches through this one are held by the sink as they are: not carried over */
  heldThrough: number;
  /**
   * records after those batches that the sink holds all the same, by seq (their canonical line):
   * a copy's unsealed tail, which the device it was copied from sealed and sent. Not carried over.
   */
  heldRecords?: ReadonlyMap<number, string>;
}

export interface EpochSwitchInput {
  db: Level<string, string>;
  device: string;
  key: DeviceKey;
  state: JournalState;
  /** the first seq the journal holds that the sink does not: header(heldThrough + 1).first, or sealedSeq + 1 */
  keepFrom: number;
  /** every durable record held from `keepFrom` on, in seq order */
  records: AsyncIterable<{ seq: number; line: string }>;
  maxRecords: number;
  now: number;
  /** the device clock's sync state, stated in the new epoch's headers as in every other */
  clock?: ClockState;
}

export interface EpochSwitch {
  ops: WriteOp[];
  state: JournalState;
  headers: BatchHeader[];
  rejournaled: number;
}

/** The write that replaces the journal's chain with a new epoch's, and the state after it. */
export async function epochSwitch(input: EpochSwitchInput, req: EpochRequest): Promise<EpochSwitch> {
  const { db, device, key, state, maxRecords, now, clock } = input;
  const epoch = (state.epoch ?? 1) >= req.from.epoch ? (state.epoch ?? 1) + 1 : req.from.epoch + 1;
  const carried: { line: string; ts: number }[] = [];
  for await (const { seq, line } of input.records) {
    if (req.heldRecords?.get(seq) === line) continue;
    const rec = JSON.parse(line) as Record<string, unknown>;
    // An earlier restart that no sink accepted is superseded by this one.
    if (rec.kind === 'restart') continue;
    rec.seq = carried.length + 2;
    carried.push({ line: canonicalize(rec), ts: typeof rec.ts === 'number' ? rec.ts : now });
  }
  const restart = canonicalize(restartRecord(device, epoch, req.reason, req.from, carried.length, now));
  const lines = [{ line: restart, ts: now }, ...carried];

  const ops: WriteOp[] = [];
  // The receipts kept beside held batches go with them: the new epoch's numbers start again.
  for (const range of [RANGE.chunk, RANGE.index, RANGE.header, RANGE.pruned, RANGE.receipt]) {
    for await (const k of db.keys(range)) ops.push({ type: 'del', key: k });
  }
  const headers: BatchHeader[] = [];
  let prev = req.from.hash;
  let bytes = 0;
  // Sealed at once, a batch per maxRecords and a chunk per batch: the carried records are old already.
  for (let first = 1; first <= lines.length; first += maxRecords) {
    const group = lines.slice(first - 1, first - 1 + maxRecords);
    const text = group.map((l) => l.line);
    const header = signHeader({
      device, batch: headers.length + 1, first, last: first + group.length - 1, count: group.length,
      root: rootFromLeafHashes(text.map((l) => leafHash(l))).toString('hex'), prev, created: now,
      ...(clock ? { clock } : {}), epoch,
    }, key);
    const chunkBytes = text.reduce((s, l) => s + l.length + 1, 0);
    let minTs = Infinity;
    let maxTs = -Infinity;
    for (const l of group) {
      minTs = Math.min(minTs, l.ts);
      maxTs = Math.max(maxTs, l.ts);
    }
    const headerText = canonicalize(header);
    ops.push(
      { type: 'put', key: chunkKey(first), value: text.join('\n') },
      { type: 'put', key: indexKey(first), value: encodeIndex({ first, last: header.last, minTs, maxTs, bytes: chunkBytes }) },
      { type: 'put', key: headerKey(header.batch), value: headerText },
    );
    bytes += chunkBytes + headerText.length;
    headers.push(header);
    prev = headerHash(header);
  }
  // The publishers' holds count seqs too: their brokers have none of the new epoch's records yet.
  const holds = state.holds ? Object.fromEntries(Object.keys(state.holds).map((name) => [name, { through: 0, lost: 0 }])) : undefined;
  const next: JournalState = {
    ...state, ...(holds ? { holds } : {}), epoch, lastSeq: lines.length, sealedSeq: lines.length, lastBatch: headers.length, lastHeaderHash: prev,
    ackedBatch: 0, ackedSeq: 0, ackedHeaderHash: req.from.hash, bytes, tailOpenedAt: null,
  };
  ops.push({ type: 'put', key: STATE_KEY, value: JSON.stringify(next) });
  return { ops, state: next, headers, rejournaled: carried.length };
}
