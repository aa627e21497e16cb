import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { createLogger } from '../../kernel/log.ts';
import type { ReadingInput } from '../../protocol/records.ts';
import { generateKey } from '../../protocol/signature.ts';
import { Journal, type JournalOptions } from './journal.ts';
import { verifyJournal } from './verify.ts';

const root = mkdtempSync(join(tmpdir(), 'fieldproof-holds-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `d${++n}`);
const key = generateKey();

function reading(i: number): ReadingInput {
  return { sensor: `s-${i % 5}`, metric: 'co2_ppm', ts: 1_763_884_800_000 + i * 100, value: 400 + (i % 97), unit: 'ppm', quality: { score: 1, flags: [] } };
}

function open(dir: string, opts: Partial<JournalOptions> = {}): Promise<Journal> {
  return Journal.open({ dir, device: 'site-a-gw1', key, batch: { maxRecords: 10, maxAgeMs: 60_000 }, commitMaxWaitMs: 1, ...opts });
}

async function fill(j: Journal, from: number, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => j.append(reading(from + i))));
}

async function heldSeqs(j: Journal): Promise<number[]> {
  const seqs: number[] = [];
  for await (const { seq } of j.records()) seqs.push(seq);
  return seqs;
}

test('acknowledged records stay until every hold has them; unsent counts only what the sink lacks; holds survive a crash', async () => {
  const dir = freshDir();
  let j = await open(dir);
  await j.keepHolds(['sparkplug', 'aws-iot']);
  await fill(j, 0, 40);
  await j.acknowledge(4); // the sink has seqs 1..40
  let s = j.stats();
  assert.equal(s.unsentRecords, 0);
  assert.equal(s.heldRecords, 40);
  assert.equal((await heldSeqs(j)).length, 40, 'nothing deleted: no hold has any record yet');

  await j.hold('sparkplug', 25);
  assert.equal((await heldSeqs(j))[0], 1, 'aws-iot still holds everything');
  await j.hold('aws-iot', 12);
  assert.equal((await heldSeqs(j))[0], 11, 'batch 1 (1..10) is behind both holds and the sink');
  s = j.stats();
  assert.equal(s.heldRecords, 30);
  assert.deepEqual(s.holds, { sparkplug: { through: 25, lost: 0 }, 'aws-iot': { through: 12, lost: 0 } });

  await fill(j, 40, 5);
  await j.close();
  let logText = '';
  const log = createLogger('fieldproof', 'info', new Writable({ write(chunk, _enc, done) { logText += String(chunk); done(); } }));
  j = await open(dir, { log });
  s = j.stats();
  assert.equal(s.holds['aws-iot']!.through, 12);
  // the publisher configured now has no hold yet: it holds everything until it says how far it is
  await j.keepHolds(['aws-iot', 'azure-iot-hub']);
  s = j.stats();
  assert.equal(s.holds.sparkplug, undefined, 'a publisher no longer configured holds nothing');
  assert.match(logText, /"hold":"sparkplug","through":25,"msg":"journal hold of a publisher no longer configured dropped"/);
  await j.hold('aws-iot', 40);
  assert.equal((await heldSeqs(j))[0], 11, 'azure-iot-hub holds from its start');
  await j.hold('azure-iot-hub', 40);
  await j.sealNow();
  await j.acknowledge(j.stats().lastBatch);
  assert.deepEqual(await heldSeqs(j), [41, 42, 43, 44, 45], 'the sink has 1..45, both holds 1..40');
  assert.equal(j.stats().heldRecords, 5);
  await j.hold('aws-iot', 45);
  await j.hold('azure-iot-hub', 45);
  assert.deepEqual(await heldSeqs(j), []);
  assert.equal(j.stats().bytes, 0, 'every byte held is accounted');
  assert.equal((await verifyJournal(j)).ok, true);
  await j.close();
});

test('the disk bound drops held records first, counts them per hold, and prunes no unsent batch while any are left', async () => {
  const j = await open(freshDir(), { maxBytes: 30_000, policy: 'drop-oldest' });
  await j.keepHolds(['sparkplug', 'aws-iot']);
  const told: Record<string, { count: number; through: number }[]> = { sparkplug: [], 'aws-iot': [] };
  j.onHoldLost('sparkplug', (count, through) => told.sparkplug!.push({ count, through }));
  j.onHoldLost('aws-iot', (count, through) => told['aws-iot']!.push({ count, through }));
  await fill(j, 0, 100);
  await j.acknowledge(10); // the sink has 1..100; the holds nothing yet
  await j.hold('aws-iot', 30);
  const before = j.stats();
  assert.equal(before.heldRecords, 100);
  // unsent records take the space now: the held ones must go, and only they
  for (let i = 100; i < 180; i += 10) await fill(j, i, 10);
  const s = j.stats();
  assert.equal(s.prunedBatches, 0, 'no unsent batch was pruned while held records were left');
  assert.equal(s.unsentRecords, 80);
  assert.ok(s.bytes <= 30_000);
  const lost = s.holds.sparkplug!.lost;
  assert.ok(lost > 0 && lost <= 100, `sparkplug lost ${lost}`);
  assert.equal(s.holds['aws-iot']!.lost, Math.max(0, s.holds.sparkplug!.through - 30), 'aws-iot lost only what it did not have');
  assert.equal(told.sparkplug!.reduce((a, t) => a + t.count, 0), lost, 'the listener heard of every record lost');
  assert.equal(told.sparkplug!.at(-1)!.through, s.holds.sparkplug!.through);
  const seqs = await heldSeqs(j);
  assert.equal(seqs[0], s.holds.sparkplug!.through + 1, 'dropped oldest first, a prefix');
  assert.equal(seqs.at(-1), 180);

  // with nothing held left, the bound prunes the oldest unsent batches as before
  for (let i = 180; i < 400; i += 10) await fill(j, i, 10);
  const after = j.stats();
  assert.equal(after.heldRecords, 0);
  assert.ok(after.prunedBatches > 0);
  // the pruned batches are lost to the publishers too: each hold moved past them
  const through = after.holds.sparkplug!.through;
  assert.ok(through > 100);
  assert.equal(after.holds.sparkplug!.lost, through);
  assert.deepEqual(after.holds['aws-iot'], { through, lost: through - 30 });
  assert.equal((await heldSeqs(j))[0]! > through, true);
  assert.equal((await verifyJournal(j)).ok, true);
  await j.close();
});
