// The LevelDB readings index in chunks, on a real LevelDB: its series and latest answers against a
// plain fold over the same random readings (timestamps at hour edges, failed reads, flags with
// quotes and unicode, several epochs whose seqs start again, batches put twice), in aligned and
// unaligned steps. Values are multiples of 1/4, so every sum is exact in any order.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Level } from 'level';
import { openLevel } from '../../kernel/level-open.ts';
import { prng } from '../../kernel/prng.ts';
import { tempDir } from '../../test/support/sink.ts';
import { LevelReadingsIndex, readingPuts } from './level-readings.ts';
import { HOUR_MS, type Bucket, type LatestReading, type ReadingRow, type SeriesQuery } from './types.ts';

const T0 = Date.UTC(2026, 4, 1);
const SENSORS = ['s-1', 's-2', 'pv-x'];
const METRICS = ['co2_ppm', 'temp_c'];
const FLAGS = [['calibration_stale'], ['say "hi"', 'tab\there'], ['ñandú ☃ 测试', 'a,b|c\nd'], ['\\', '{"json":1}']];

interface Held extends ReadingRow {
  epoch: number;
}

/** The order of the first layout's keys: ts, seq, then the epoch's key suffix ('' for 1, '!eN'). */
const suffix = (e: number) => (e === 1 ? '' : `!e${e}`);
const later = (a: Held, b: Held) => a.ts !== b.ts ? a.ts > b.ts : a.seq !== b.seq ? a.seq > b.seq : suffix(a.epoch) > suffix(b.epoch);

function randomBatches(seed: number): { epoch: number; batch: number; rows: ReadingRow[] }[] {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const out: { epoch: number; batch: number; rows: ReadingRow[] }[] = [];
  const epochs = 1 + Math.floor(rand() * 3);
  for (let epoch = 1; epoch <= epochs; epoch++) {
    let seq = 1; // seqs and batch numbers start again in each epoch
    const batches = 1 + Math.floor(rand() * 5);
    for (let batch = 1; batch <= batches; batch++) {
      const rows: ReadingRow[] = [];
      const n = 1 + Math.floor(rand() * 80);
      for (let i = 0; i < n; i++) {
        const hour = T0 + Math.floor(rand() * 5) * HOUR_MS;
        const ts = hour + pick([0, 1, HOUR_MS - 1, HOUR_MS - 1000, 1000, Math.floor(rand() * HOUR_MS)]);
        const value = rand() < 0.12 ? null : Math.round(rand() * 8000 - 4000) / 4;
        const flags = rand() < 0.06 ? pick(FLAGS) : [];
        rows.push({ sensor: pick(SENSORS), metric: pick(METRICS), ts, value, unit: rand() < 0.1 ? 'ppb' : 'ppm', score: flags.length ? 0.5 : pick([1, 1, 1, 0.75]), flags, seq: seq++ });
      }
      out.push({ epoch, batch, rows });
    }
  }
  return out;
}

/** What the index should answer, folded plainly from every reading held. */
class Reference {
  readonly held: Held[] = [];
  readonly units = new Map<string, string>();

  add(epoch: number, rows: readonly ReadingRow[]): void {
    const latestInBatch = new Map<string, Held>();
    for (const r of rows) {
      const h = { ...r, epoch };
      this.held.push(h);
      const k = `${r.sensor}!${r.metric}`;
      const cur = latestInBatch.get(k);
      if (!cur || later(h, cur)) latestInBatch.set(k, h);
    }
    for (const [k, h] of latestInBatch) this.units.set(k, h.unit);
  }

  series(q: Omit<SeriesQuery, 'device'>): { unit: string | null; points: Bucket[] } {
    const buckets = new Map<number, { sum: number; b: Bucket }>();
    for (const r of this.held) {
      if (r.sensor !== q.sensor || r.metric !== q.metric || r.value === null || r.ts < q.from || r.ts >= q.to) continue;
      const t = q.from + Math.floor((r.ts - q.from) / q.step) * q.step;
      const cur = buckets.get(t);
      if (!cur) buckets.set(t, { sum: r.value, b: { t, min: r.value, avg: 0, max: r.value, n: 1 } });
      else {
        cur.sum += r.value;
        cur.b.n++;
        cur.b.min = Math.min(cur.b.min, r.value);
        cur.b.max = Math.max(cur.b.max, r.value);
      }
    }
    const points = [...buckets.values()].sort((a, b) => a.b.t - b.b.t).map(({ sum, b }) => ({ ...b, avg: sum / b.n }));
    return { unit: this.units.get(`${q.sensor}!${q.metric}`) ?? null, points };
  }

  latest(limit: number): LatestReading[] {
    const best = new Map<string, Held>();
    for (const r of this.held) {
      const k = `${r.sensor}!${r.metric}`;
      const cur = best.get(k);
      if (!cur || later(r, cur)) best.set(k, r);
    }
    return [...best.keys()].sort().slice(0, limit).map((k) => {
      const r = best.get(k)!;
      return { sensor: r.sensor, metric: r.metric, unit: this.units.get(k)!, ts: r.ts, value: r.value, quality: { score: r.score, flags: r.flags } };
    });
  }
}

function queries(seed: number): Omit<SeriesQuery, 'device' | 'sensor' | 'metric'>[] {
  const rand = prng(seed * 7919);
  const edge = () => T0 + Math.floor(rand() * 6 - 1) * HOUR_MS + [0, 0, 1, -1, 60_000, Math.floor(rand() * HOUR_MS)][Math.floor(rand() * 6)]!;
  const out: Omit<SeriesQuery, 'device' | 'sensor' | 'metric'>[] = [];
  for (let i = 0; i < 12; i++) {
    // aligned: whole-hour from and steps, read from the hourly sums up to the last whole hour before `to`
    const from = T0 + Math.floor(rand() * 6 - 1) * HOUR_MS;
    out.push({ from, to: Math.max(from + 1, edge()), step: HOUR_MS * (1 + Math.floor(rand() * 3)) });
    // unaligned: every reading read
    const uFrom = edge();
    out.push({ from: uFrom, to: uFrom + 1 + Math.floor(rand() * 7 * HOUR_MS), step: [1, 1000, 7 * 60_000, HOUR_MS, 90 * 60_000][Math.floor(rand() * 5)]! * (rand() < 0.5 ? 1 : 3) });
  }
  return out;
}

describe('LevelDB readings index in chunks', () => {
  const tmp = tempDir();
  let db: Level<string, string>;
  before(async () => {
    db = await openLevel(join(tmp.dir, 'index'));
  });
  after(async () => {
    await db.close();
    tmp.cleanup();
  });

  it('answers series and latest as a plain fold over the same readings, batches indexed twice counted once', async () => {
    const index = new LevelReadingsIndex(() => db);
    for (let seed = 1; seed <= 25; seed++) {
      const device = `dev-${seed}`;
      const ref = new Reference();
      const batches = randomBatches(seed);
      for (const b of batches) {
        await db.batch<string, string | Buffer>(readingPuts(device, b.batch, b.rows, b.epoch), {});
        ref.add(b.epoch, b.rows);
      }
      // batches indexed again from one on, as a rebuild from the stored batches does: the same chunks and sums, nothing added
      for (const again of batches.slice(seed % batches.length)) await db.batch<string, string | Buffer>(readingPuts(device, again.batch, again.rows, again.epoch), {});
      for (const q of queries(seed)) {
        for (const sensor of SENSORS) {
          for (const metric of METRICS) {
            const got = await index.series({ device, sensor, metric, ...q });
            assert.deepEqual(got, ref.series({ sensor, metric, ...q }), `seed ${seed} ${sensor}/${metric} ${JSON.stringify(q)}`);
          }
        }
      }
      assert.deepEqual(await index.latest(device, 100), ref.latest(100), `seed ${seed} latest`);
      assert.deepEqual(await index.latest(device, 2), ref.latest(2), `seed ${seed} latest, limited`);
    }
  });

  it('reads back values with no short decimal form, and a batch whose readings are out of time order', async () => {
    const index = new LevelReadingsIndex(() => db);
    const rows: ReadingRow[] = [0.1 + 0.2, Math.PI, 1e-300, -0, 123456789.123, null].map((value, i) => ({
      sensor: 'f-1', metric: 'x', ts: T0 + (5 - i) * 1000, value, unit: 'u', score: 1, flags: [], seq: i + 1,
    }));
    await db.batch<string, string | Buffer>(readingPuts('dev-float', 1, rows), {});
    const r = await index.series({ device: 'dev-float', sensor: 'f-1', metric: 'x', from: T0, to: T0 + 10_000, step: 1000 });
    assert.deepEqual(r.points.map((p) => p.avg), [123456789.123, 0, 1e-300, Math.PI, 0.1 + 0.2]);
    assert.deepEqual((await index.latest('dev-float', 10))[0]!.value, 0.1 + 0.2);
  });
});
