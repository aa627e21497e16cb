import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { silentLogger } from '../../kernel/log.ts';
import { Registry } from '../../kernel/metrics.ts';
import { gapRecord, readingRecord, type JournalRecord } from '../../protocol/records.ts';
import { generateKey } from '../../protocol/signature.ts';
import { Journal } from '../journal/journal.ts';
import { HistoryComponent, SNAPSHOT_FILE } from './component.ts';
import { historySchema } from './config.ts';
import { HistoryIndex } from './history-index.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot.ts';

const root = mkdtempSync(join(tmpdir(), 'fieldproof-history-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const NOW = 1_763_884_800_000; // a whole hour
const MIN = 60_000;
const config = historySchema.parse({ hours: 2, bucketSeconds: 60, maxSeries: 3 });
let seq = 0;
const reading = (sensor: string, ts: number, value: number | null) => readingRecord('d', ++seq, { sensor, metric: 'co2_ppm', ts, value, unit: 'ppm' }, { score: 1, flags: [] });

test('buckets hold min/avg/max/n, a silent spell is absent, null values are not drawn', () => {
  const idx = new HistoryIndex({ config, now: () => NOW });
  idx.note([reading('a', NOW - 10 * MIN, 400), reading('a', NOW - 10 * MIN + 30_000, 500), reading('a', NOW - 9 * MIN, null)]);
  idx.note([reading('a', NOW - 5 * MIN, 450), gapRecord('d', ++seq, 12, NOW - 8 * MIN, NOW - 6 * MIN, 'disk_full')]);
  const q = idx.query('a', 'co2_ppm', NOW - 15 * MIN, NOW, MIN)!;
  assert.deepEqual(q.points, [
    { t: NOW - 10 * MIN, min: 400, avg: 450, max: 500, n: 2 },
    { t: NOW - 5 * MIN, min: 450, avg: 450, max: 450, n: 1 },
  ]);
  assert.deepEqual(q.gaps.map((g) => [g.dropped, g.reason]), [[12, 'disk_full']]);
  // a coarser step merges buckets
  const q5 = idx.query('a', 'co2_ppm', NOW - 15 * MIN, NOW, 5 * MIN)!;
  assert.deepEqual(q5.points.map((p) => [p.t, p.n, p.min, p.max]), [[NOW - 10 * MIN, 2, 400, 500], [NOW - 5 * MIN, 1, 450, 450]]);
  assert.equal(idx.query('nobody', 'co2_ppm', NOW - MIN, NOW, MIN), null);
  assert.equal(idx.lastSeq, seq);
});

test('bounded: readings beyond the window or far ahead are not kept, series beyond the cap are counted', () => {
  const skipped: string[] = [];
  const idx = new HistoryIndex({ config, now: () => NOW, skipped: (r) => skipped.push(r) });
  idx.note([reading('a', NOW - 3 * 60 * MIN, 1), reading('a', NOW + 60 * MIN, 2), reading('a', NOW, 3), reading('b', NOW, 3), reading('c', NOW, 3), reading('d', NOW, 3)]);
  assert.deepEqual(skipped, ['too_old', 'future', 'series_cap']);
  assert.equal(idx.seriesCount, 3);
  // the ring: a reading a whole window later replaces the bucket in its slot
  const later = new HistoryIndex({ config, now: () => NOW + 2 * 60 * MIN });
  later.note([reading('a', NOW, 1), reading('a', NOW + 2 * 60 * MIN, 2)]);
  assert.deepEqual(later.query('a', 'co2_ppm', NOW - 60 * MIN, NOW + 3 * 60 * MIN, MIN)!.points.map((p) => p.avg), [2]);
});

test('a snapshot round-trips, and a damaged or foreign one is refused whole', () => {
  const idx = new HistoryIndex({ config, now: () => NOW });
  idx.note([reading('a', NOW - 3 * MIN, 400), reading('b', NOW - 2 * MIN, 7), gapRecord('d', ++seq, 3, NOW - MIN, NOW, 'overload')]);
  const buf = encodeSnapshot(idx, NOW);
  const back = new HistoryIndex({ config, now: () => NOW });
  assert.deepEqual(decodeSnapshot(buf, back), { savedAt: NOW, lastSeq: idx.lastSeq });
  assert.deepEqual(back.query('a', 'co2_ppm', NOW - 60 * MIN, NOW, MIN), idx.query('a', 'co2_ppm', NOW - 60 * MIN, NOW, MIN));
  assert.deepEqual(back.allGaps(), idx.allGaps());

  // a freak unit is cut to what a snapshot holds, rather than making the snapshot unreadable
  const odd = new HistoryIndex({ config, now: () => NOW });
  odd.note([readingRecord('d', ++seq, { sensor: 'x', metric: 'm', ts: NOW, value: 1, unit: 'u'.repeat(500) }, { score: 1, flags: [] })]);
  const oddBack = new HistoryIndex({ config, now: () => NOW });
  decodeSnapshot(encodeSnapshot(odd, NOW), oddBack);
  assert.equal(oddBack.list()[0]!.unit.length, 64);

  const refuse = (b: Buffer, why: RegExp) => assert.throws(() => decodeSnapshot(b, new HistoryIndex({ config, now: () => NOW })), why);
  refuse(buf.subarray(0, buf.length - 1), /size/);
  refuse(Buffer.from('hello'), /not a history snapshot/);
  const tampered = Buffer.from(buf);
  tampered.writeDoubleLE(Number.NaN, tampered.length - 8); // the last bucket's n
  refuse(tampered, /does not hold together/);
  const other = new HistoryIndex({ config: historySchema.parse({ hours: 2, bucketSeconds: 30 }), now: () => NOW });
  assert.throws(() => decodeSnapshot(buf, other), /30000 ms buckets|60000 ms buckets/);
  const huge = Buffer.from(buf);
  huge.writeUInt32LE(0xffffffff, 8);
  refuse(huge, /header length/);
});

test('the config bounds buckets per series', () => {
  assert.equal(historySchema.safeParse({ hours: 168, bucketSeconds: 1 }).success, false);
  assert.equal(historySchema.safeParse({ hours: 24, bucketSeconds: 5 }).success, true);
});

test('the component rebuilds from the journal, saves on stop, and a restart picks up after its snapshot', async () => {
  const dir = join(root, 'component');
  const key = generateKey();
  const journal = await Journal.open({ dir, device: 'd', key, batch: { maxRecords: 50, maxAgeMs: 60_000 }, commitMaxWaitMs: 1 });
  const now = Date.now();
  const input = (i: number, ts: number) => ({ sensor: 'a', metric: 'co2_ppm', ts, value: 400 + i, unit: 'ppm', quality: { score: 1, flags: [] } });
  // an hour ago, then a silent half hour, then the last 20 minutes
  for (let i = 0; i < 10; i++) await journal.append(input(i, now - 60 * MIN + i * MIN));
  for (let i = 0; i < 20; i++) await journal.append(input(i, now - 20 * MIN + i * MIN));
  const listeners: ((r: readonly JournalRecord[]) => void)[] = [];
  const make = () =>
    new HistoryComponent({
      config, dataDir: dir, log: silentLogger(), metrics: new Registry(),
      journal: { records: (from) => journal.records(from), lastSeq: () => journal.stats().lastSeq, firstSeqSince: (ts) => journal.firstSeqSince(ts), flush: () => journal.flush() },
      onCommitted: (l) => listeners.push(l),
    });
  journal.onCommitted((records) => listeners.forEach((l) => l(records)));

  const first = make();
  await first.start();
  while (first.rebuilding) await new Promise((r) => setTimeout(r, 10));
  const points = () => first.index.query('a', 'co2_ppm', now - 2 * 60 * MIN, now + MIN, MIN)!.points;
  assert.equal(points().length, 30);
  // the silent half hour is a run of absent buckets
  const times = points().map((p) => p.t);
  assert.ok(times[10]! - times[9]! >= 30 * MIN, 'the silence is a gap');
  await journal.append(input(99, now)); // live
  assert.equal(points().length, 31);
  await first.stop();
  assert.ok(readFileSync(join(dir, SNAPSHOT_FILE)).length > 31 * 40);

  // Records the journal no longer holds (acknowledged) still show after a restart: from the snapshot.
  await journal.sealNow();
  await journal.acknowledge(journal.stats().lastBatch);
  await journal.append(input(100, now)); // after the snapshot: read back from the journal
  listeners.length = 0;
  const second = make();
  await second.start();
  while (second.rebuilding) await new Promise((r) => setTimeout(r, 10));
  const q = second.index.query('a', 'co2_ppm', now - 2 * 60 * MIN, now + MIN, MIN)!;
  assert.equal(q.points.length, 31);
  assert.equal(q.points.at(-1)!.n, 2, 'the reading after the snapshot came from the journal, once');
  await second.stop();

  // A damaged snapshot: refused, the history rebuilt from what the journal holds.
  writeFileSync(join(dir, SNAPSHOT_FILE), 'garbage');
  listeners.length = 0;
  const third = make();
  await third.start();
  while (third.rebuilding) await new Promise((r) => setTimeout(r, 10));
  assert.equal(third.index.query('a', 'co2_ppm', now - 2 * 60 * MIN, now + MIN, MIN)!.points.length, 1);
  await third.stop();
  await journal.close();
});

test('the history follows the journal into a new epoch: the records it carries over and the new ones, each once', async () => {
  const dir = join(root, 'epochs');
  const journal = await Journal.open({ dir, device: 'd', key: generateKey(), batch: { maxRecords: 50, maxAgeMs: 60_000 }, commitMaxWaitMs: 1 });
  const now = Date.now();
  const input = (i: number) => ({ sensor: 'a', metric: 'co2_ppm', ts: now - 30 * MIN + i * MIN, value: 400 + i, unit: 'ppm', quality: { score: 1, flags: [] } });
  const listeners: ((r: readonly JournalRecord[]) => void)[] = [];
  journal.onCommitted((records) => listeners.forEach((l) => l(records)));
  const make = () =>
    new HistoryComponent({
      config, dataDir: dir, log: silentLogger(), metrics: new Registry(),
      journal: {
        records: (from) => journal.records(from), lastSeq: () => journal.stats().lastSeq, firstSeqSince: (ts) => journal.firstSeqSince(ts),
        flush: () => journal.flush(), epoch: () => journal.epoch,
      },
      onCommitted: (l) => listeners.push(l),
    });
  const started = async () => {
    listeners.length = 0;
    const h = make();
    await h.start();
    while (h.rebuilding) await new Promise((r) => setTimeout(r, 10));
    return h;
  };
  const count = (h: HistoryComponent) => h.index.query('a', 'co2_ppm', now - 2 * 60 * MIN, now + MIN, MIN)!.points.reduce((n, p) => n + p.n, 0);
  const newEpoch = async (hash: string) => {
    await journal.sealNow();
    await journal.startEpoch({ reason: 'journal_lost', from: { epoch: journal.epoch, batch: 1, hash }, heldThrough: 0 });
  };

  for (let i = 0; i < 10; i++) await journal.append(input(i));
  const first = await started();
  assert.equal(count(first), 10);
  await first.stop(); // its snapshot counts the seqs of epoch 1

  await newEpoch('ab'.repeat(32)); // the ten carried over, behind the restart record
  for (let i = 10; i < 13; i++) await journal.append(input(i));
  const second = await started();
  assert.equal(journal.epoch, 2);
  assert.equal(count(second), 13, 'a snapshot of epoch 1, a journal of epoch 2: the new records read once, the carried ones not again');

  await newEpoch('cd'.repeat(32)); // while the history runs
  for (let i = 13; i < 15; i++) await journal.append(input(i));
  assert.equal(count(second), 15, 'live records of the new epoch taken in, though their seqs are below the old ones');
  await second.stop();

  const third = await started();
  assert.equal(count(third), 15, 'and the snapshot of epoch 3 is read after its own seqs');
  await third.stop();
  await journal.close();
});
