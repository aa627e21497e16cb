// A sink store whose readings index is in the first layout (a key per reading), made on a real
// LevelDB by that layout's own writer kept here, is converted to chunks when it opens: the old keys
// are gone and every answer is what a store indexed in chunks from the start gives. A conversion
// cut short (a write that fails midway, leaving the disk as a crash would; a real sink process
// SIGKILLed in it) finishes on the next open.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { Level } from 'level';
import pino from 'pino';
import { headerHash, type Batch } from '../../protocol/batch.ts';
import { generateKey } from '../../protocol/signature.ts';
import { openLevel } from '../../kernel/level-open.ts';
import { makeChain, tempDir } from '../../test/support/sink.ts';
import { LevelSinkStore } from '../store/level-store.ts';
import type { BatchToStore } from '../store/types.ts';
import { CHUNKS, LAYOUT_KEY } from './level-layout.ts';
import { foldBySeries } from './fold.ts';
import { readingRows, type ReadingRow } from './types.ts';

const START = Date.UTC(2026, 1, 1, 0, 59, 30);
const BIN = new URL('../../bin/fieldproof.js', import.meta.url).pathname;
const DEVICE = 'dev-1';

function toStore(b: Batch): BatchToStore {
  return { header: b.header, hash: headerHash(b.header), text: b.records.map((r) => JSON.stringify(r)).join('\n'), pruned: false, minTs: null, maxTs: null, receivedAt: Date.now() };
}

const pad = (n: number) => String(n).padStart(16, '0');

/** The first layout's puts for a batch: a key per reading, the series' unit, the batch's hourly sums. */
function perReadingPuts(device: string, batch: number, rows: readonly ReadingRow[], epoch = 1): { type: 'put'; key: string; value: string }[] {
  const suffix = epoch === 1 ? '' : `!e${epoch}`;
  const ops = rows.map((r) => {
    const value = `${r.value === null ? '' : r.value}\t${r.score}`;
    return { type: 'put' as const, key: `q!${device}!${r.sensor}!${r.metric}!${pad(r.ts)}!${pad(r.seq)}${suffix}`, value: r.flags.length ? `${value}\t${JSON.stringify(r.flags)}` : value };
  });
  for (const slot of foldBySeries(rows).slots) {
    ops.push({ type: 'put', key: `qs!${device}!${slot.sensor}!${slot.metric}`, value: slot.latest.unit });
    for (const [hour, h] of slot.hours) ops.push({ type: 'put', key: `qh!${device}!${slot.sensor}!${slot.metric}!${pad(hour)}!${pad(batch)}${suffix}`, value: `${h.n}\t${h.sum}\t${h.min}\t${h.max}` });
  }
  return ops;
}

async function countKeys(dir: string, gte: string, lt: string): Promise<number> {
  const db = await openLevel(dir);
  try {
    return (await db.keys({ gte, lt }).all()).length;
  } finally {
    await db.close();
  }
}

/** Level's batch() failing on its `nth` call whose operations `match`, until put back. */
function failingBatch(nth: number, match: (ops: { type: string; key: string }[]) => boolean): () => void {
  const proto = Level.prototype as unknown as { batch: (...args: unknown[]) => unknown };
  const real = proto.batch;
  let seen = 0;
  proto.batch = function (this: unknown, ...args: unknown[]) {
    const ops = args[0];
    if (Array.isArray(ops) && match(ops as { type: string; key: string }[]) && ++seen === nth) return Promise.reject(new Error('write cut short'));
    return real.apply(this, args);
  };
  return () => (proto.batch = real);
}

describe('readings index in the first layout, converted on open', () => {
  const tmp = tempDir();
  // 6 batches of 4,000 readings of 4 sensors at 1 Hz across an hour's edge: 24,000 per-reading keys
  const key = generateKey();
  const chain = makeChain(DEVICE, key, 6, 4000, { start: START });
  const oldDir = join(tmp.dir, 'old');
  const freshDir = join(tmp.dir, 'fresh');
  after(tmp.cleanup);

  /** The batches, stored with the index off, then the first layout's keys written as that code did. */
  async function oldLayoutStore(dir: string): Promise<void> {
    const store = new LevelSinkStore(dir, { readings: false });
    await store.open();
    for (const b of chain) assert.deepEqual(await store.commitBatch(toStore(b)), { status: 'stored' });
    await store.close();
    const db = await openLevel(dir);
    for (const b of chain) await db.batch(perReadingPuts(DEVICE, b.header.batch, readingRows(b.records.map((r) => JSON.stringify(r)).join('\n'))));
    await db.put('m!readings', '1', { sync: true });
    await db.close();
  }

  before(async () => {
    await oldLayoutStore(oldDir);
    const fresh = new LevelSinkStore(freshDir);
    await fresh.open();
    for (const b of chain) await fresh.commitBatch(toStore(b));
    await fresh.close();
  });

  async function answers(dir: string) {
    const store = new LevelSinkStore(dir);
    await store.open();
    try {
      const index = store.readings()!;
      const out: unknown[] = [await index.latest(DEVICE, 100)];
      for (const sensor of ['pv-1', 'pv-2', 'pv-3', 'pv-4']) {
        for (const [from, step] of [[START - 30_000, 3600_000], [START + 1234, 60_000], [START - 30_000, 1000]] as const) {
          out.push(await index.series({ device: DEVICE, sensor, metric: 'power_kw', from, to: START + 7200_000, step }));
        }
      }
      return out;
    } finally {
      await store.close();
    }
  }

  it('deletes the per-reading keys and answers as a store indexed in chunks from the start, after cuts at each step', async () => {
    assert.equal(await countKeys(oldDir, 'q!', 'q!~'), 24_000);
    // cut while deleting the old keys (its second write of deletions), then while indexing the stored batches
    const cuts = [
      () => failingBatch(2, (ops) => ops[0]?.type === 'del'),
      () => failingBatch(1, (ops) => ops.some((op) => op.key.startsWith('qc!'))),
    ];
    let restore = cuts[0]!();
    await cutOpen(oldDir);
    restore();
    const left = await countKeys(oldDir, 'q!', 'q!~');
    assert.ok(left > 0 && left < 24_000, `some old keys deleted, some left (${left})`);
    restore = cuts[1]!();
    await cutOpen(oldDir);
    restore();
    assert.equal(await countKeys(oldDir, 'q!', 'q!~'), 0, 'the old keys are gone before the chunks are written');

    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => lines.push(s) });
    const store = new LevelSinkStore(oldDir, { log });
    await store.open();
    await store.close();
    assert.ok(lines.some((l) => l.includes('every stored batch indexed')), lines.join(''));
    const db = await openLevel(oldDir);
    assert.equal(await db.get(LAYOUT_KEY), CHUNKS);
    assert.equal(await db.get('m!readings'), '1');
    await db.close();
    const expected = await answers(freshDir);
    assert.equal((expected[0] as unknown[]).length, 4, 'four sensors');
    assert.ok(expected.slice(1).every((a) => (a as { points: unknown[] }).points.length > 0), 'every query has points');
    assert.deepEqual(await answers(oldDir), expected);
  });

  it('finishes a conversion whose sink process was SIGKILLed while converting, and again while indexing', async (t) => {
    const dataDir = join(tmp.dir, 'killed');
    await oldLayoutStore(join(dataDir, 'store'));
    const config = join(tmp.dir, 'killed.yaml');
    writeFileSync(config, `listen: 127.0.0.1:0\ndataDir: ${JSON.stringify(dataDir)}\ndevices:\n  - id: ${DEVICE}\n    key: ${key.public}\n`);
    const seen = [await killAt(config, 'converting'), await killAt(config, 'keys deleted')];
    assert.equal(seen[0], 'converting', 'the first process was killed in the conversion');
    t.diagnostic(`killed at: ${seen.join(', ')}`);
    const expected = await answers(freshDir);
    assert.deepEqual(await answers(join(dataDir, 'store')), expected, `killed at: ${seen.join(', ')}`);
    assert.equal(await countKeys(join(dataDir, 'store'), 'q!', 'q!~'), 0);
  });
});

/**
 * Starts `fieldproof sink` on `config` and SIGKILLs it at its first log line that includes `at`
 * (or once it listens, if the conversion was over before); says which.
 */
function killAt(config: string, at: string): Promise<string> {
  const child = spawn(process.execPath, [BIN, 'sink', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let killedAt = 'exit';
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (killedAt !== 'exit') return;
    const hit = line.includes(at) ? at : /listening/i.test(line) ? 'listening' : null;
    if (hit) {
      killedAt = hit;
      child.kill('SIGKILL');
    }
  });
  return new Promise((resolve) => child.on('exit', () => resolve(killedAt)));
}

/** An open whose conversion is cut short: it fails, and its LevelDB is closed as a dying process's would be. */
async function cutOpen(dir: string): Promise<void> {
  const store = new LevelSinkStore(dir);
  await assert.rejects(store.open(), /write cut short/);
  await store.close();
}
