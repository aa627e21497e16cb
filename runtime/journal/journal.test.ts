import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Level } from 'level';
import { checkBatch, chainProblem, type BatchHeader } from '../../protocol/batch.ts';
import type { GapRecord, JournalRecord, ReadingInput } from '../../protocol/records.ts';
import { coverProblem } from '../../protocol/prune-cover.ts';
import { generateKey, type DeviceKey } from '../../protocol/signature.ts';
import { JournalFullError, JournalOpenError } from './errors.ts';
import { Journal, type JournalOptions } from './journal.ts';
import { verifyJournal } from './verify.ts';

const root = mkdtempSync(join(tmpdir(), 'fieldproof-journal-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `d${++n}`);
const key = generateKey();

function reading(i: number, extra: Partial<ReadingInput> = {}): ReadingInput {
  return { sensor: `s-${i % 5}`, metric: 'co2_ppm', ts: 1_763_884_800_000 + i * 100, value: 400 + (i % 97), unit: 'ppm', quality: { score: 1, flags: [] }, ...extra };
}

async function open(dir: string, opts: Partial<JournalOptions> = {}): Promise<Journal> {
  return Journal.open({ dir, device: 'site-a-gw1', key, batch: { maxRecords: 10, maxAgeMs: 60_000 }, commitMaxWaitMs: 1, ...opts });
}

async function fill(j: Journal, from: number, count: number): Promise<number[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => j.append(reading(from + i))));
}

async function allBatches(j: Journal): Promise<{ header: BatchHeader; records: JournalRecord[]; pruned?: true }[]> {
  const s = j.stats();
  const out = [];
  for (let b = s.ackedBatch + 1; b <= s.lastBatch; b++) out.push((await j.readBatch(b))!);
  return out;
}

test('seqs start at 1 without holes, batches seal by count and verify, and chain', async () => {
  const j = await open(freshDir());
  const seqs = await fill(j, 0, 35);
  assert.deepEqual(seqs, Array.from({ length: 35 }, (_, i) => i + 1));
  const s = j.stats();
  assert.equal(s.lastSeq, 35);
  assert.equal(s.lastBatch, 3);
  assert.equal(s.sealedSeq, 30);
  const batches = await allBatches(j);
  assert.deepEqual(batches.map((b) => [b.header.first, b.header.last]), [[1, 10], [11, 20], [21, 30]]);
  for (const b of batches) assert.equal(checkBatch(b.header, b.records).ok, true);
  assert.equal(chainProblem(batches.map((b) => b.header)), null);
  assert.equal((await verifyJournal(j)).ok, true);
  await j.close();
});

test('close seals the tail; a reopened journal continues the seqs and the chain', async () => {
  const dir = freshDir();
  let j = await open(dir);
  await fill(j, 0, 14);
  await j.close();
  j = await open(dir);
  assert.equal(j.stats().sealedSeq, 14, 'the tail of 4 was sealed on close');
  const seqs = await fill(j, 14, 12);
  assert.equal(seqs[0], 15);
  await j.sealNow();
  const batches = await allBatches(j);
  assert.equal(chainProblem(batches.map((b) => b.header)), null);
  assert.equal(batches.at(-1)!.header.last, 26);
  await j.close();
});

test('an unsealed tail survives a reopen without close (as after a crash)', async () => {
  const dir = freshDir();
  const j = await open(dir);
  await fill(j, 0, 7);
  // Simulate the process dying: drop the object without close() by opening the db files directly
  // after closing only the LevelDB handle.
  await (j as unknown as { db: Level<string, string> }).db.close();
  const k = await open(dir);
  assert.equal(k.stats().lastSeq, 7);
  assert.equal(k.stats().sealedSeq, 0);
  await fill(k, 7, 5);
  const s = k.stats();
  assert.equal(s.lastBatch, 1);
  const b = (await k.readBatch(1))!;
  assert.deepEqual(b.records.map((r) => r.seq), Array.from({ length: 10 }, (_, i) => i + 1));
  assert.equal(checkBatch(b.header, b.records).ok, true);
  await k.close();
});

test('batches seal by bytes and by age', async () => {
  let now = 1_000_000;
  const j = await open(freshDir(), { batch: { maxRecords: 1000, maxBytes: 2000, maxAgeMs: 500 }, now: () => now });
  await fill(j, 0, 25);
  const s = j.stats();
  assert.ok(s.lastBatch >= 1, 'sealed by bytes');
  for (const b of await allBatches(j)) assert.ok(b.records.reduce((t, r) => t + JSON.stringify(r).length, 0) < 2300);
  const before = j.stats().lastBatch;
  await fill(j, 25, 1);
  now += 600;
  await fill(j, 26, 1); // a commit after the age passed seals the tail
  assert.equal(j.stats().sealedSeq, 27);
  assert.ok(j.stats().lastBatch > before);
  await j.close();
});

test('acknowledged batches are deleted; stats and verify follow; the cursor survives a reopen', async () => {
  const dir = freshDir();
  let j = await open(dir);
  await fill(j, 0, 50);
  const bytesBefore = j.stats().bytes;
  await j.acknowledge(3);
  let s = j.stats();
  assert.equal(s.ackedBatch, 3);
  assert.equal(s.ackedSeq, 30);
  assert.equal(s.unsentRecords, 20);
  assert.ok(s.bytes < bytesBefore * 0.5);
  assert.equal(await j.readBatch(3), null);
  assert.equal((await j.readBatch(4))!.header.first, 31);
  await j.acknowledge(2); // going back is a no-op
  assert.equal(j.stats().ackedBatch, 3);
  await assert.rejects(j.acknowledge(99), RangeError);
  await j.close();
  j = await open(dir);
  s = j.stats();
  assert.equal(s.ackedBatch, 3);
  const v = await verifyJournal(j);
  assert.equal(v.ok, true, v.problems.join('; '));
  assert.equal(v.firstHeldSeq, 31);
  await j.close();
});

test('drop-oldest: the oldest unsent batches are dropped, their headers kept, and a gap record tells', async () => {
  const j = await open(freshDir(), { maxBytes: 20_000, policy: 'drop-oldest' });
  for (let i = 0; i < 150; i += 10) await fill(j, i, 10);
  const s = j.stats();
  assert.ok(s.prunedBatches > 0, 'some batches were dropped');
  assert.ok(s.bytes <= 20_000 + 2000, `bytes ${s.bytes} stay near the bound`);
  const batches = await allBatches(j);
  const pruned = batches.filter((b) => b.pruned);
  assert.equal(pruned.length, s.prunedBatches);
  assert.equal(pruned[0]!.header.batch, 1, 'the oldest went first');
  assert.ok(pruned.every((b) => b.records.length === 0));
  const gaps = batches.flatMap((b) => b.records).filter((r): r is GapRecord => r.kind === 'gap');
  assert.ok(gaps.length >= 1, 'a gap record was written');
  const dropped = gaps.reduce((t, g) => t + g.dropped, 0) + (s.pendingGap?.dropped ?? 0);
  assert.equal(dropped, pruned.reduce((t, b) => t + b.header.count, 0));
  assert.equal(gaps[0]!.reason, 'disk_full');
  assert.ok(gaps[0]!.from <= gaps[0]!.to);
  assert.equal(chainProblem(batches.map((b) => b.header)), null, 'the chain stays whole');
  const v = await verifyJournal(j);
  assert.equal(v.ok, true, v.problems.join('; '));
  await j.close();
});

test('drop-oldest: every pruned batch is named, with its hash, by a sealed gap record, also when that record\'s batch is dropped in turn, and after a reopen', async () => {
  const dir = freshDir();
  let j = await open(dir, { maxBytes: 30_000, policy: 'drop-oldest' });
  // Long enough that batches holding gap records are dropped too: their batches are named again.
  for (let i = 0; i < 300; i += 10) await fill(j, i, 10);
  await j.sealNow();
  const check = async (jj: Journal) => {
    const s = jj.stats();
    assert.ok(s.prunedBatches > 5, `many batches dropped (${s.prunedBatches})`);
    let covered = 0;
    for (let b = s.ackedBatch + 1; b <= s.lastBatch; b++) {
      if (!jj.isPruned(b)) continue;
      const cover = await jj.pruneCover(b);
      assert.ok(cover, `pruned batch ${b} has a sealed gap record naming it`);
      assert.equal(coverProblem(jj.header(b)!, cover), null);
      covered++;
    }
    assert.equal(covered, s.prunedBatches);
  };
  await check(j);
  const gaps = (await allBatches(j)).flatMap((b) => b.records).filter((r): r is GapRecord => r.kind === 'gap');
  assert.ok(gaps.some((g) => (g.batches?.length ?? 0) > 1), 'a gap record names batches again whose first record was dropped with its batch');
  await j.close();
  j = await open(dir, { maxBytes: 30_000, policy: 'drop-oldest' });
  await check(j);
  await j.close();
});

test('reject-new: readings beyond the bound are refused, counted, and a gap record follows once there is room', async () => {
  const j = await open(freshDir(), { maxBytes: 4000, policy: 'reject-new' });
  const outcomes = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => j.append(reading(i))));
  const refused = outcomes.filter((o) => o.status === 'rejected');
  assert.ok(refused.length > 0);
  assert.ok(refused.every((o) => (o as PromiseRejectedResult).reason instanceof JournalFullError));
  const accepted = outcomes.filter((o) => o.status === 'fulfilled').length;
  assert.equal(j.stats().lastSeq, accepted, 'no seq for a refused reading');
  assert.equal(j.stats().pendingGap?.dropped, refused.length);
  await j.acknowledge(j.stats().lastBatch); // a sink took everything: room again
  const seq = await j.append(reading(1000));
  const gap = (await j.sealNow(), await allBatches(j)).flatMap((b) => b.records).find((r) => r.kind === 'gap') as GapRecord;
  assert.equal(gap.dropped, refused.length);
  assert.equal(gap.seq, seq - 1, 'the gap record comes just before the first reading after it');
  assert.equal(j.stats().pendingGap, null);
  await j.close();
});

test('a second open of a data dir in use gets a clear error', async () => {
  const dir = freshDir();
  const j = await open(dir);
  await assert.rejects(open(dir), (err: Error) => err instanceof JournalOpenError && /in use/.test(err.message));
  await j.close();
});

test('a foreign or damaged data dir is refused, never started afresh', async () => {
  const dir = freshDir();
  const j = await open(dir);
  await fill(j, 0, 3);
  await j.close();
  await assert.rejects(Journal.open({ dir, device: 'other-device', key }), /belongs to device site-a-gw1/);
  const otherKey: DeviceKey = generateKey();
  await assert.rejects(Journal.open({ dir, device: 'site-a-gw1', key: otherKey }), /signed with key/);

  const notLevel = freshDir();
  mkdirSync(join(notLevel, 'journal'), { recursive: true });
  writeFileSync(join(notLevel, 'journal', 'photo.jpg'), 'x');
  await assert.rejects(open(notLevel), /not a fieldproof journal/);

  const otherDb = freshDir();
  const db = new Level(join(otherDb, 'journal'));
  await db.put('hello', 'world');
  await db.close();
  await assert.rejects(open(otherDb), /not a fieldproof journal/);

  const broken = freshDir();
  const k = await open(broken);
  await k.close();
  writeFileSync(join(broken, 'journal', 'CURRENT'), 'MANIFEST-999999\n');
  await assert.rejects(open(broken), (err: Error) => err instanceof JournalOpenError && !err.message.includes('\n'));

  const fileNotDir = join(root, 'a-file');
  writeFileSync(fileNotDir, 'x');
  await assert.rejects(open(fileNotDir), /not a directory/);
});

test('verify finds a record changed on disk', async () => {
  const dir = freshDir();
  const j = await open(dir);
  await fill(j, 0, 20);
  await j.close();
  const db = new Level<string, string>(join(dir, 'journal'), { valueEncoding: 'utf8' });
  for await (const [k, v] of db.iterator({ gte: 'c!', lt: 'c"', limit: 1 })) await db.put(k, v.replace('"value":400', '"value":401'));
  await db.close();
  const r = await Journal.inspect(dir);
  const v = await verifyJournal(r);
  assert.equal(v.ok, false);
  assert.match(v.problems.join(';'), /batch 1: root does not match/);
  await r.close();
});

test('listeners see committed records in seq order, and sealed headers', async () => {
  const j = await open(freshDir());
  const seen: number[] = [];
  const sealed: number[] = [];
  j.onCommitted((recs) => seen.push(...recs.map((r) => r.seq)));
  j.onSealed((h) => sealed.push(h.batch));
  for (let i = 0; i < 25; i++) j.write(reading(i));
  await j.sealNow();
  assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => i + 1));
  assert.deepEqual(sealed, [1, 2, 3]);
  await j.close();
});

test('a reading the encoder cannot represent is refused alone; the rest of its group is kept', async () => {
  const j = await open(freshDir());
  const results = await Promise.allSettled([j.append(reading(1)), j.append(reading(2, { value: Number.NaN })), j.append(reading(3))]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.equal(j.stats().lastSeq, 2);
  await j.close();
});

test('a failed write is undone in memory: its readings are refused, counted in a gap record, and the journal goes on whole', async () => {
  const j = await open(freshDir());
  await fill(j, 0, 15); // batch 1 sealed, 5 in the tail
  // Fault injection on the real LevelDB handle: its next write fails as a full disk would.
  const db = (j as unknown as { db: { batch: (...args: unknown[]) => Promise<void> } }).db;
  const realBatch = db.batch.bind(db);
  db.batch = async () => {
    db.batch = realBatch;
    throw new Error('IO error: No space left on device');
  };
  const failed = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => j.append(reading(100 + i))));
  assert.ok(failed.every((r) => r.status === 'rejected' && /journal write failed/.test(String(r.reason))));
  assert.equal(j.stats().lastSeq, 15);
  assert.equal(j.stats().lastBatch, 1, 'the batch the failed commit sealed is gone');
  const seqs = await fill(j, 200, 8);
  assert.equal(seqs[0], 17, 'seq 16 is the gap record');
  await j.sealNow();
  const batches = await allBatches(j);
  assert.equal(chainProblem(batches.map((b) => b.header)), null);
  const records = batches.flatMap((b) => b.records);
  assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 24 }, (_, i) => i + 1));
  const gap = records.find((r) => r.kind === 'gap') as GapRecord;
  assert.equal(gap.seq, 16);
  assert.equal(gap.reason, 'write_failed');
  assert.equal(gap.dropped, 12);
  const v = await verifyJournal(j);
  assert.equal(v.ok, true, v.problems.join('; '));
  await j.close();
});

test('a remembered stream\'s last durable value survives a crash, and a failed write does not move it', async () => {
  const dir = freshDir();
  const j = await open(dir);
  assert.equal(j.rememberLast('meter-1', 'energy_delivered_kwh'), undefined, 'nothing held in a new journal');
  const energy = (i: number, value: number | null) => reading(i, { sensor: 'meter-1', metric: 'energy_delivered_kwh', value, unit: 'kWh' });
  await j.append(energy(1, 100.5));
  await j.append(energy(2, 101.25));
  await j.append(energy(3, null)); // a failed read: not a value to resume from
  await j.append(reading(4, { sensor: 'meter-1', metric: 'power_kw', value: 7 })); // not remembered
  const db = (j as unknown as { db: { batch: (...args: unknown[]) => Promise<void>; close(): Promise<void> } }).db;
  const realBatch = db.batch.bind(db);
  db.batch = async () => {
    db.batch = realBatch;
    throw new Error('IO error: No space left on device');
  };
  await assert.rejects(j.append(energy(5, 999)), /journal write failed/);
  assert.deepEqual(j.rememberLast('meter-1', 'energy_delivered_kwh'), { value: 101.25, ts: energy(2, 0).ts });
  // the process dies: no close
  await db.close();
  const k = await open(dir);
  assert.deepEqual(k.rememberLast('meter-1', 'energy_delivered_kwh'), { value: 101.25, ts: energy(2, 0).ts });
  assert.equal(k.rememberLast('meter-1', 'power_kw'), undefined);
  await k.append(energy(6, 102));
  await k.close();
  const m = await open(dir);
  assert.deepEqual(m.rememberLast('meter-1', 'energy_delivered_kwh'), { value: 102, ts: energy(6, 0).ts });
  await m.close();
});
