// The readings API on both stores, through real HTTP: a real LevelDB, and a real PostgreSQL
// (FIELDPROOF_TEST_PG) in a schema of its own. Known readings give exact buckets; gaps and failed
// reads leave no points; a batch sent twice counts once; a new recovery epoch's readings join the
// old ones; bad parameters get a counted 400.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { headerHash, signBatch as signEpochBatch, type Batch } from '../../protocol/batch.ts';
import { ZERO_HASH } from '../../protocol/hash.ts';
import { gapRecord, readingRecord, type JournalRecord } from '../../protocol/records.ts';
import { restartRecord } from '../../protocol/restart.ts';
import { generateKey } from '../../protocol/signature.ts';
import { dropPgSchema, getJson, postColumnar, postJson, signBatch, tempDir } from '../../test/support/sink.ts';
import { sinkConfig } from '../config.ts';
import { Sink } from '../sink.ts';

const PG = process.env.FIELDPROOF_TEST_PG;
const DEVICE = 'site-r';
const MIN = 60_000;
/** 2026-03-01T00:00Z */
const T0 = Date.UTC(2026, 2, 1);

/**
 * Batch 1: co2-1 at T0 + i min, values 1..10, the 5th a failed read, with a temp_c reading and a
 * gap record between. Batch 2: co2-1 at +20 and +21 min (11, 12, the last flagged), co2-2 once.
 */
function chain(key: ReturnType<typeof generateKey>): Batch[] {
  let seq = 1;
  const reading = (sensor: string, metric: string, unit: string, ts: number, value: number | null, flags: string[] = []) =>
    readingRecord(DEVICE, seq++, { sensor, metric, unit, ts, value }, { score: flags.length ? 0.5 : 1, flags });
  const b1: JournalRecord[] = [];
  for (let i = 0; i < 10; i++) b1.push(reading('co2-1', 'co2_ppm', 'ppm', T0 + i * MIN, i === 4 ? null : i + 1));
  b1.push(reading('co2-1', 'temp_c', 'C', T0 + 9 * MIN, 21.5));
  b1.push(gapRecord(DEVICE, seq++, 600, T0 + 10 * MIN, T0 + 20 * MIN, 'disk_full'));
  const first = signBatch(DEVICE, key, 1, b1, ZERO_HASH);
  const b2 = [
    reading('co2-1', 'co2_ppm', 'ppm', T0 + 20 * MIN, 11),
    reading('co2-1', 'co2_ppm', 'ppm', T0 + 21 * MIN, 12, ['calibration_stale']),
    reading('co2-2', 'co2_ppm', 'ppm', T0 + 3 * MIN, 400),
  ];
  return [first, signBatch(DEVICE, key, 2, b2, headerHash(first.header))];
}

const series = (q: string) => `/v1/readings?device=${DEVICE}&sensor=co2-1&metric=co2_ppm&${q}`;

for (const kind of ['level', 'postgres'] as const) {
  describe(`readings API on the ${kind} store`, { skip: kind === 'postgres' && !PG ? 'FIELDPROOF_TEST_PG is not set' : false }, () => {
    const key = generateKey();
    const tmp = tempDir();
    const schema = `fp_readings_${process.pid}_${Date.now().toString(36)}`;
    let sink: Sink;
    const get = (path: string) => getJson(sink.url + path);

    before(async () => {
      sink = new Sink(sinkConfig({
        listen: '127.0.0.1:0', dataDir: tmp.dir, devices: [{ id: DEVICE, key: key.public }, { id: 'site-quiet', key: generateKey().public }],
        ...(kind === 'postgres' ? { store: { kind: 'postgres' as const, url: PG!, schema, poolSize: 4 } } : {}),
        limits: { refusalsBeforeBlock: 0 },
      }));
      await sink.start();
      const [b1, b2] = chain(key);
      assert.equal((await postJson(sink.url, b1!)).body.status, 'stored');
      assert.equal((await postColumnar(sink.url, b2!)).body.status, 'stored');
    });
    after(async () => {
      await sink.stop();
      if (kind === 'postgres') await dropPgSchema(PG!, schema);
      tmp.cleanup();
    });

    it('answers exact min/avg/max/n per step, buckets from `from`, empty buckets and failed reads left out', async () => {
      const r = await get(series(`from=${T0}&to=${T0 + 30 * MIN}&step=${5 * MIN}`));
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, {
        device: DEVICE, sensor: 'co2-1', metric: 'co2_ppm', unit: 'ppm', from: T0, to: T0 + 30 * MIN, step: 5 * MIN,
        points: [
          { t: T0, min: 1, avg: 2.5, max: 4, n: 4 },
          { t: T0 + 5 * MIN, min: 6, avg: 8, max: 10, n: 5 },
          { t: T0 + 20 * MIN, min: 11, avg: 11.5, max: 12, n: 2 },
        ],
      });
      const shifted = await get(series(`from=${T0 + 2 * MIN}&to=${T0 + 21 * MIN}&step=${5 * MIN}`));
      assert.deepEqual(shifted.body.points, [
        { t: T0 + 2 * MIN, min: 3, avg: 5, max: 7, n: 4 },
        { t: T0 + 7 * MIN, min: 8, avg: 9, max: 10, n: 3 },
        { t: T0 + 17 * MIN, min: 11, avg: 11, max: 11, n: 1 },
      ], 'buckets start at from; to is exclusive');
    });

    it('answers whole-hour steps from the hourly sums exactly as reading by reading', async () => {
      // T0 is a whole hour: hourly sums up to the hour before `to`, the readings after it one by one
      const hourly = await get(series(`from=${T0}&to=${T0 + 3600_000 + 5 * MIN}&step=3600000`));
      assert.deepEqual(hourly.body.points, [{ t: T0, min: 1, avg: 73 / 11, max: 12, n: 11 }]);
      const tailOnly = await get(series(`from=${T0}&to=${T0 + 21 * MIN}&step=3600000`));
      assert.deepEqual(tailOnly.body.points, [{ t: T0, min: 1, avg: 61 / 10, max: 11, n: 10 }], 'to inside the first hour: reading by reading');
      const twoHours = await get(series(`from=${T0 - 3600_000}&to=${T0 + 3 * 3600_000}&step=7200000`));
      assert.deepEqual(twoHours.body.points, [{ t: T0 - 3600_000, min: 1, avg: 73 / 11, max: 12, n: 11 }]);
    });

    it('counts a batch sent twice once', async () => {
      const [b1] = chain(key);
      assert.equal((await postJson(sink.url, b1!)).body.status, 'duplicate');
      const r = await get(series(`from=${T0}&to=${T0 + 30 * MIN}&step=${30 * MIN}`));
      assert.deepEqual(r.body.points, [{ t: T0, min: 1, avg: 73 / 11, max: 12, n: 11 }]);
    });

    it('answers the latest reading of each sensor and metric', async () => {
      const r = await get(`/v1/readings/latest?device=${DEVICE}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, {
        device: DEVICE,
        sensors: [
          { sensor: 'co2-1', metric: 'co2_ppm', unit: 'ppm', ts: T0 + 21 * MIN, value: 12, quality: { score: 0.5, flags: ['calibration_stale'] } },
          { sensor: 'co2-1', metric: 'temp_c', unit: 'C', ts: T0 + 9 * MIN, value: 21.5, quality: { score: 1, flags: [] } },
          { sensor: 'co2-2', metric: 'co2_ppm', unit: 'ppm', ts: T0 + 3 * MIN, value: 400, quality: { score: 1, flags: [] } },
        ],
      });
      assert.deepEqual((await get('/v1/readings/latest?device=site-quiet')).body, { device: 'site-quiet', sensors: [] }, 'a registered device with nothing yet');
      const unknownSeries = await get(`/v1/readings?device=${DEVICE}&sensor=co2-9&metric=co2_ppm&from=${T0}&to=${T0 + MIN}`);
      assert.equal(unknownSeries.status, 200);
      assert.equal(unknownSeries.body.unit, null);
      assert.deepEqual(unknownSeries.body.points, []);
    });

    it('keeps a new recovery epoch\'s readings beside the old ones, though its seqs and batch numbers start again', async () => {
      const b2 = chain(key)[1]!;
      const from = { epoch: 1, batch: 2, hash: headerHash(b2.header) };
      // seq 2 of epoch 2 has the sensor, time and seq of seq 2 of epoch 1; its batch 1 sums the same hour as batch 1 did
      const records: JournalRecord[] = [
        restartRecord(DEVICE, 2, 'journal_lost', from, 0, T0 + 22 * MIN),
        readingRecord(DEVICE, 2, { sensor: 'co2-1', metric: 'co2_ppm', unit: 'ppm', ts: T0 + MIN, value: 100 }, { score: 1, flags: [] }),
        readingRecord(DEVICE, 3, { sensor: 'co2-1', metric: 'co2_ppm', unit: 'ppm', ts: T0 + 22 * MIN, value: 13 }, { score: 1, flags: [] }),
      ];
      const epoch2 = signEpochBatch(DEVICE, key, 1, records, from.hash, T0 + 23 * MIN, 2);
      assert.equal((await postJson(sink.url, epoch2)).body.code, 'restart_pending');
      assert.equal((await sink.store.acceptRestart(DEVICE, 2, Date.now())).status, 'accepted');
      assert.equal((await postJson(sink.url, epoch2)).body.status, 'stored');
      const all = { t: T0, min: 1, avg: 186 / 13, max: 100, n: 13 };
      assert.deepEqual((await get(series(`from=${T0}&to=${T0 + 3600_000 + 5 * MIN}&step=3600000`))).body.points, [all], 'from the hourly sums');
      assert.deepEqual((await get(series(`from=${T0}&to=${T0 + 23 * MIN}&step=3600000`))).body.points, [all], 'reading by reading');
    });

    it('refuses bad parameters with a one-line 400 and counts them', async () => {
      const cases: [string, string][] = [
        [series(`from=${T0}&to=${T0 + 86_400_000}&step=1`), 'too_many_buckets'],
        [series(`from=0&to=${Number.MAX_SAFE_INTEGER}&step=1000`), 'too_many_buckets'],
        [series(`from=${T0}&to=${T0}&step=1000`), 'bad_query'],
        [series(`from=${T0 + 5}&to=${T0}&step=1000`), 'bad_query'],
        [series(`from=${T0}&to=${T0 + MIN}&step=0`), 'bad_query'],
        [series(`from=-5&to=${T0}&step=1000`), 'bad_query'],
        [series(`from=1e12&to=${T0}&step=1000`), 'bad_query'],
        [series(`from=${T0}&to=99999999999999999&step=1000`), 'bad_query'],
        [series(`to=${T0}&step=1000`), 'bad_query'],
        [series(`from=${T0}&to=${T0 + MIN}&step=1000&step=2000`), 'bad_query'],
        [series(`from=${T0}&to=${T0 + MIN}&limit=5`), 'bad_query'],
        [`/v1/readings?device=${DEVICE}&sensor=co2%201&metric=co2_ppm&from=${T0}&to=${T0 + MIN}`, 'bad_name'],
        [`/v1/readings?device=${DEVICE}&sensor=${'x'.repeat(200)}&metric=co2_ppm&from=${T0}&to=${T0 + MIN}`, 'bad_name'],
        [`/v1/readings?device=../etc&sensor=co2-1&metric=co2_ppm&from=${T0}&to=${T0 + MIN}`, 'bad_device_name'],
        ['/v1/readings/latest', 'bad_query'],
        ['/v1/readings/latest?device=%00', 'bad_device_name'],
      ];
      for (const [path, code] of cases) {
        const res = await fetch(sink.url + path);
        const text = await res.text();
        assert.equal(res.status, 400, path);
        assert.equal(text.trimEnd().includes('\n'), false, 'one line');
        assert.equal(JSON.parse(text).code, code, path);
      }
      const unknown = await get(`/v1/readings/latest?device=site-nobody`);
      assert.equal(unknown.status, 404);
      const metrics = await (await fetch(`${sink.url}/metrics`)).text();
      assert.match(metrics, /fieldproof_sink_http_refused_total\{status="400",reason="too_many_buckets"\} 2/);
      assert.match(metrics, /fieldproof_sink_http_requests_total\{route="readings",status="400"\} 1[0-9]/);
    });
  });
}
