// Fuzzing the sink's HTTP API over real sockets against a real `fieldproof sink` process:
// random and mutated bodies, headers and paths, gzip bombs, deep JSON, batches of unregistered
// devices or signed with the wrong key, lying lengths, slow and idle clients, from one address,
// while a legitimate device posts its chain from another. Bounded in shots and time. Afterwards
// the sink answers, never answered 5xx, refused everything in one line of JSON, its memory is
// back near where it started, and it holds exactly what it held plus the legitimate batches.
// FIELDPROOF_TEST_PG runs it on PostgreSQL too; FIELDPROOF_FUZZ_SEED repeats a run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { request } from 'undici';
import type { Batch } from '../protocol/batch.ts';
import { generateKey } from '../protocol/signature.ts';
import { runAttack } from '../bench/hostile/attack.ts';
import { ShotBook } from '../bench/hostile/shots.ts';
import { startSinkProcess, type SinkProcess } from '../cloud-sink/sink-process.ts';
import { makeChain, tempDir } from '../test/support/sink.ts';

const BIN = fileURLToPath(new URL('../bin/fieldproof.js', import.meta.url));
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** LevelDB gets the longer run; PostgreSQL, when there is one, a shorter one over the same shots. */
const FUZZ_SECONDS = { level: 10, postgres: 5 };
const MAX_SHOTS = 5000;
const HEADERS_TIMEOUT_MS = 1000;
const BUFFERED_MB = 32;
const REQUEST_TIMEOUT_MS = 2000;

interface Memory {
  rssMb: number;
  /** the JavaScript heap in use and the buffers outside it: what a leak would grow */
  heapAndBuffersMb: number;
}

async function memoryOf(url: string): Promise<Memory> {
  // a connection of its own: a pooled one may have idled out while the sink wrote its snapshot
  const res = await request(`${url}/metrics`, { reset: true });
  const text = await res.body.text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1048576;
  return { rssMb: value('process_resident_memory_bytes'), heapAndBuffersMb: value('nodejs_heap_size_used_bytes') + value('nodejs_external_memory_bytes') };
}

/**
 * The sink's memory once what it allocated has been collected: the garbage collector runs when
 * the sink allocates, not when it idles, so the sink is started with node's
 * --heapsnapshot-signal and sent that signal, and a heap snapshot begins with a full collection.
 */
async function collectedMemoryOf(sink: SinkProcess, dir: string): Promise<Memory> {
  const before = readdirSync(dir).length;
  sink.child.kill('SIGUSR2');
  for (let i = 0; i < 300 && readdirSync(dir).length === before; i++) await sleep(100);
  return memoryOf(sink.url);
}

/** Post a batch as the device's uplink would: on 429 wait as told, on a dropped connection a moment, and send it again. */
async function postAsDevice(url: string, batch: Batch): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const res = await request(`${url}/v1/batches`, { method: 'POST', body: JSON.stringify(batch), headers: { 'content-type': 'application/json' } });
      await res.body.text();
      if (res.statusCode !== 429) return res.statusCode;
      await sleep(1000 * Number(res.headers['retry-after'] ?? 1));
    } catch (err) {
      if (!/ECONNRESET|other side closed|socket/i.test(`${(err as NodeJS.ErrnoException).code} ${(err as Error).message}`)) throw err;
      await sleep(200);
    }
  }
  return 429;
}

async function exportOf(config: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, [BIN, 'sink-export', '--config', config], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\n').filter(Boolean);
}

const device = generateKey();
const stolen = generateKey();
const chain = makeChain('site-legit', device, 40, 25, { withGap: true });
let shots: Promise<ShotBook> | null = null;

/** The bombs take a few seconds to build: once for both stores. */
function shotBook(): Promise<ShotBook> {
  shots ??= (async () => {
    const book = new ShotBook({
      registered: 'site-legit', stolen: { id: 'site-stolen', key: stolen }, replay: chain[0]!.header,
      headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, bombBytes: 32 * 1024 * 1024,
    });
    await book.prepare();
    return book;
  })();
  return shots;
}

function fuzzOn(store: 'level' | 'postgres', pgUrl?: string) {
  return async (t: { diagnostic: (m: string) => void }) => {
    const seed = Number(process.env.FIELDPROOF_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    t.diagnostic(`seed ${seed} (FIELDPROOF_FUZZ_SEED=${seed} repeats this run)`);
    const tmp = tempDir('fieldproof-fuzz-');
    const schema = `fp_fuzz_${randomBytes(4).toString('hex')}`;
    const storeYaml = store === 'postgres' ? `store:\n  kind: postgres\n  url: ${JSON.stringify(pgUrl)}\n  schema: ${schema}\n` : '';
    const config = join(tmp.dir, 'sink.yaml');
    writeFileSync(config, [
      'listen: 127.0.0.1:0', `dataDir: ${join(tmp.dir, 'sink')}`, 'adminToken: fuzz-admin-token-0123456789',
      'devices:', `  - id: site-legit\n    key: ${device.public}`, `  - id: site-stolen\n    key: ${stolen.public}`,
      // blocking is off so that every shot reaches the code it aims at; it has its own test
      'limits:', `  headersTimeoutMs: ${HEADERS_TIMEOUT_MS}`, `  requestTimeoutMs: ${REQUEST_TIMEOUT_MS}`, '  refusalsBeforeBlock: 0', `  maxBufferedBytes: ${BUFFERED_MB * 1024 * 1024}`,
    ].join('\n') + '\n' + storeYaml);
    let sink: SinkProcess | null = null;
    try {
      // what the sink holds before: the device's first five batches
      sink = await startSinkProcess(config);
      for (const b of chain.slice(0, 5)) assert.equal(await postAsDevice(sink.url, b), 200);
      if (store === 'level') await sink.stop();
      const held = await exportOf(config);
      assert.equal(held.length, 5);
      const snapshots = join(tmp.dir, 'snapshots');
      mkdirSync(snapshots);
      await sink.stop();
      sink = await startSinkProcess(config, { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshots}` });
      const url = sink.url;
      const { port } = new URL(url);

      const book = await shotBook();
      const targets = ['127.0.0.2', '127.0.0.3'].map((localAddress) => ({ host: '127.0.0.1', port: Number(port), localAddress }));
      // one of each kind first, so that the memory measured before is that of a sink which has seen them all
      const kinds = book.kinds();
      await runAttack(book, { targets, kinds, workers: kinds.length, maxShots: kinds.length, untilMs: Infinity, seed, inTurn: true });
      const memBefore = await collectedMemoryOf(sink, snapshots);

      let legitStored = 0;
      const legit = (async () => {
        for (const b of chain.slice(5)) {
          assert.equal(await postAsDevice(url, b), 200, `batch ${b.header.batch} of the legitimate device`);
          legitStored++;
          await sleep(200);
        }
      })();
      const tally = await runAttack(book, {
        targets, kinds: book.kinds(), workers: 24, maxShots: MAX_SHOTS, untilMs: performance.now() + FUZZ_SECONDS[store] * 1000, seed,
        rareKinds: ['slowloris', 'slow_body', 'idle', 'lying_length_short'],
      });
      await legit;
      t.diagnostic(`${tally.shots} shots: ${JSON.stringify(tally.byKind)}`);

      assert.deepEqual(tally.violations.slice(0, 20), [], 'no 5xx, every refusal one line of JSON');
      assert.ok(tally.shots >= 200, `only ${tally.shots} shots were sent`);
      assert.equal(legitStored, chain.length - 5);
      const health = await request(`${url}/healthz`, { reset: true });
      assert.equal(health.statusCode, 200);
      await health.body.text();

      // What the shots made the sink allocate is garbage now. The allocator may keep the pages it
      // had at the peak (RSS), which the limits bound: bodies held at once, requests in flight.
      const memAfter = await collectedMemoryOf(sink, snapshots);
      t.diagnostic(`memory before ${JSON.stringify(memBefore)}, after ${JSON.stringify(memAfter)}`);
      assert.ok(memAfter.heapAndBuffersMb < memBefore.heapAndBuffersMb * 1.25 + 8, `heap and buffers ${memAfter.heapAndBuffersMb} MiB after, ${memBefore.heapAndBuffersMb} before`);
      assert.ok(memAfter.rssMb < memBefore.rssMb + BUFFERED_MB * 2, `RSS ${memAfter.rssMb} MiB after, ${memBefore.rssMb} before`);

      if (store === 'level') await sink.stop();
      const after = await exportOf(config);
      assert.deepEqual(after.slice(0, held.length), held, 'what the sink held is unchanged');
      assert.deepEqual(after.slice(held.length).map((l) => JSON.parse(l)), chain.slice(5).map((b) => ({ header: b.header, records: b.records })), 'and it holds the legitimate batches, nothing else');
    } finally {
      await sink?.stop();
      tmp.cleanup();
      if (store === 'postgres') {
        const c = new pg.Client({ connectionString: pgUrl });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await c.end();
      }
    }
  };
}

describe('fuzzing the sink over HTTP', { timeout: 180_000 }, () => {
  it('LevelDB: answers, never 5xx, memory back, store unchanged but for the legitimate batches', fuzzOn('level'));
  const pg = process.env.FIELDPROOF_TEST_PG;
  it('PostgreSQL: the same', { skip: pg ? false : 'set FIELDPROOF_TEST_PG to fuzz a PostgreSQL store too' }, fuzzOn('postgres', pg));
});
