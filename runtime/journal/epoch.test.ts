import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chainProblem, checkBatch, epochOf, headerHash, type BatchHeader } from '../../protocol/batch.ts';
import type { JournalRecord, ReadingInput, ReadingRecord } from '../../protocol/records.ts';
import type { RestartRecord } from '../../protocol/restart.ts';
import { generateKey } from '../../protocol/signature.ts';
import { Journal } from './journal.ts';
import { verifyJournal } from './verify.ts';

const root = mkdtempSync(join(tmpdir(), 'fieldproof-epoch-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
const key = generateKey();

function reading(i: number): ReadingInput {
  return { sensor: `s-${i % 3}`, metric: 'co2_ppm', ts: 1_763_884_800_000 + i * 100, value: 400 + i, unit: 'ppm', quality: { score: 1, flags: [] } };
}

const open = (dir: string) => Journal.open({ dir, device: 'site-a-gw1', key, batch: { maxRecords: 10, maxAgeMs: 60_000 }, commitMaxWaitMs: 1 });

async function held(j: Journal): Promise<{ header: BatchHeader; records: JournalRecord[] }[]> {
  const s = j.stats();
  const out = [];
  for (let b = s.ackedBatch + 1; b <= s.lastBatch; b++) out.push((await j.readBatch(b))!);
  return out;
}

test('a new epoch drops what the sink holds, carries the rest behind a restart record, and survives a reopen', async () => {
  const dir = join(root, 'a');
  let j = await open(dir);
  await Promise.all(Array.from({ length: 45 }, (_, i) => j.append(reading(i))));
  await j.acknowledge(1);
  const sinkHead = { epoch: 1, batch: 7, hash: 'cd'.repeat(32) };
  // The sink holds batches 1..3 as the journal does, then a chain the journal never wrote.
  const headers = await j.startEpoch({ reason: 'journal_behind_sink', from: sinkHead, heldThrough: 3 });
  assert.equal(j.epoch, 2);
  const batches = await held(j);
  assert.deepEqual(batches.map((b) => b.header), headers);
  assert.equal(chainProblem(headers, null, sinkHead.hash), null, 'the new chain joins the sink head');
  for (const b of batches) {
    assert.equal(epochOf(b.header), 2);
    assert.equal(checkBatch(b.header, b.records).ok, true);
  }
  const records = batches.flatMap((b) => b.records);
  const restart = records[0] as RestartRecord;
  assert.equal(restart.kind, 'restart');
  assert.deepEqual(restart.from, sinkHead);
  assert.equal(restart.rejournaled, 15, 'batch 4 and the unsealed tail: seqs 31..45 of epoch 1');
  assert.deepEqual(records.slice(1).map((r) => (r as ReadingRecord).value), Array.from({ length: 15 }, (_, i) => 430 + i));
  assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 16 }, (_, i) => i + 1));

  // Readings after the switch continue the new chain.
  await Promise.all(Array.from({ length: 10 }, (_, i) => j.append(reading(100 + i))));
  await j.close();
  j = await open(dir);
  assert.equal(j.epoch, 2);
  assert.equal((await verifyJournal(j)).ok, true);
  await j.sealNow();
  const after = await held(j);
  assert.equal(chainProblem(after.map((b) => b.header), null, sinkHead.hash), null);
  assert.equal(after.at(-1)!.header.last, 26);
  assert.ok(after.every((b) => epochOf(b.header) === 2));
  // Acknowledged batches of the new epoch leave as usual; the next one still chains.
  await j.acknowledge(1);
  assert.equal(j.ackedHeaderHash, headerHash(after[0]!.header));
  await j.close();
});

test('a journal found empty starts epoch 2 with only the restart record and what came since', async () => {
  const j = await open(join(root, 'b'));
  await Promise.all(Array.from({ length: 3 }, (_, i) => j.append(reading(i))));
  const headers = await j.startEpoch({ reason: 'journal_lost', from: { epoch: 1, batch: 40, hash: 'ab'.repeat(32) }, heldThrough: 0 });
  assert.equal(headers.length, 1);
  const [b] = await held(j);
  assert.equal((b!.records[0] as RestartRecord).reason, 'journal_lost');
  assert.equal(b!.records.length, 4);
  await j.close();
});
