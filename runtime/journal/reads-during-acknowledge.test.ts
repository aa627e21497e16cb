// Reads of the journal (the uplink's batch reads, records(), export) run while acknowledgements
// delete what the sink took. Each test holds one chunk read of the real LevelDB until an
// acknowledgement has completed, so that the interleaving is certain rather than left to timing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { ReadingInput } from '../../protocol/records.ts';
import { generateKey } from '../../protocol/signature.ts';
import { Journal } from './journal.ts';
import { chunkKey } from './layout.ts';
import { verifyJournal } from './verify.ts';

const root = mkdtempSync(join(tmpdir(), 'fieldproof-journal-reads-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const key = generateKey();

function reading(i: number): ReadingInput {
  return { sensor: `s-${i % 3}`, metric: 'co2_ppm', ts: 1_763_884_800_000 + i * 100, value: 400 + (i % 50), unit: 'ppm' };
}

/**
 * Five batches of 10 records, each in five chunks of 2: the shape a daemon's journal has, whose
 * group commits are much smaller than its batches.
 */
async function journalOfSmallChunks(): Promise<Journal> {
  const j = await Journal.open({ dir: join(root, `d${++n}`), device: 'site-a-gw1', key, batch: { maxRecords: 10, maxAgeMs: 3_600_000 }, commitMaxWaitMs: 0 });
  for (let i = 0; i < 50; i += 2) await Promise.all([j.append(reading(i)), j.append(reading(i + 1))]);
  assert.equal(j.stats().lastBatch, 5);
  return j;
}

type Get = (key: string, ...rest: unknown[]) => Promise<string | undefined>;

/**
 * Holds the journal's read of the chunk that starts at seq `first` (on its real LevelDB handle)
 * until release() is called. `reached` resolves once the read has been asked for.
 */
function holdChunkRead(journal: Journal, first: number) {
  const db = (journal as unknown as { db: { get: Get; getMany: (keys: string[], ...rest: unknown[]) => Promise<(string | undefined)[]> } }).db;
  const realGet = db.get;
  const realGetMany = db.getMany;
  const held = chunkKey(first);
  let reached!: () => void;
  let release!: () => void;
  const reachedP = new Promise<void>((r) => (reached = r));
  const releasedP = new Promise<void>((r) => (release = r));
  const gate = async (keys: string[]) => {
    if (!keys.includes(held)) return;
    reached();
    await releasedP;
  };
  db.get = async function (k: string, ...rest: unknown[]) {
    await gate([k]);
    return realGet.call(db, k, ...rest);
  };
  db.getMany = async function (keys: string[], ...rest: unknown[]) {
    await gate(keys);
    return realGetMany.call(db, keys, ...rest);
  };
  // A read that is never asked for would leave the interleaving untested: fail rather than pass.
  let timer!: NodeJS.Timeout;
  const notAsked = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the read of chunk ${first} was never asked for`)), 5000)));
  return {
    reached: Promise.race([reachedP, notAsked]).finally(() => clearTimeout(timer)),
    release() {
      db.get = realGet;
      db.getMany = realGetMany;
      release();
    },
  };
}

const seqRange = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('a batch read while earlier batches are acknowledged comes back whole', async () => {
  const j = await journalOfSmallChunks();
  const gate = holdChunkRead(j, 31); // the first chunk of batch 4
  const read = j.readBatch(4);
  await gate.reached;
  await j.acknowledge(2); // deletes the ten chunks before batch 3 from the index and the disk
  gate.release();
  const b = await read;
  assert.ok(b, 'batch 4 is still held');
  assert.deepEqual(b.records.map((r) => r.seq), seqRange(31, 40));
  assert.equal((await verifyJournal(j)).ok, true);
  await j.close();
});

test('a batch read while that batch itself is acknowledged is "no longer held", not damage', async () => {
  const j = await journalOfSmallChunks();
  const gate = holdChunkRead(j, 33); // the second chunk of batch 4
  const read = j.readBatchLines(4);
  await gate.reached;
  await j.acknowledge(4);
  gate.release();
  assert.equal(await read, null);
  const v = await verifyJournal(j);
  assert.equal(v.ok, true, v.problems.join('; '));
  assert.deepEqual((await j.readBatch(5))!.records.map((r) => r.seq), seqRange(41, 50));
  await j.close();
});

test('a batch read while an acknowledgement of it is being written is "no longer held"', async () => {
  const j = await journalOfSmallChunks();
  // LevelDB applies the acknowledgement's deletes, and its answer is held back: the window in
  // which the disk no longer has the batch while the journal's memory still does.
  const db = (j as unknown as { db: { batch: (...args: unknown[]) => Promise<void> } }).db;
  const realBatch = db.batch;
  let applied!: () => void;
  let answer!: () => void;
  const appliedP = new Promise<void>((r) => (applied = r));
  const answerP = new Promise<void>((r) => (answer = r));
  db.batch = async function (...args: unknown[]) {
    db.batch = realBatch;
    await realBatch.apply(db, args);
    applied();
    await answerP;
  };
  const gate = holdChunkRead(j, 33);
  const read = j.readBatchLines(4);
  await gate.reached;
  const acknowledged = j.acknowledge(4);
  await appliedP;
  gate.release();
  assert.equal(await read, null, 'its chunks are gone because it is being acknowledged');
  answer();
  await acknowledged;
  assert.equal(j.stats().ackedBatch, 4);
  await j.close();
});

test('a failed acknowledgement gives its batches back to readers', async () => {
  const j = await journalOfSmallChunks();
  const db = (j as unknown as { db: { batch: (...args: unknown[]) => Promise<void> } }).db;
  const realBatch = db.batch;
  db.batch = async () => {
    db.batch = realBatch;
    throw new Error('IO error: No space left on device');
  };
  await assert.rejects(j.acknowledge(3), /No space left/);
  assert.deepEqual((await j.readBatch(3))!.records.map((r) => r.seq), seqRange(21, 30));
  assert.deepEqual((await j.records().next()).value, { seq: 1, line: (await j.readBatchLines(1))!.lines[0] });
  await j.close();
});

test('records() walks on past chunks acknowledged under it, in seq order, without a duplicate', async () => {
  const j = await journalOfSmallChunks();
  const gate = holdChunkRead(j, 11); // the first chunk of batch 2
  const seen: number[] = [];
  const walk = (async () => {
    for await (const { seq } of j.records()) seen.push(seq);
  })();
  await gate.reached;
  await j.acknowledge(3);
  gate.release();
  await walk;
  // Seqs 11..30 went while the walk stood at 11: they are no longer held, and not yielded.
  assert.deepEqual(seen, [...seqRange(1, 10), ...seqRange(31, 50)]);
  await j.close();
});

test('a chunk that is gone while its batch is still held is reported as damage', async () => {
  const j = await journalOfSmallChunks();
  const db = (j as unknown as { db: { del: (k: string) => Promise<void> } }).db;
  await db.del(chunkKey(33));
  await assert.rejects(j.readBatchLines(4), /journal chunk 33 is missing; the journal is damaged/);
  const v = await verifyJournal(j);
  assert.equal(v.ok, false);
  await j.close();
});
