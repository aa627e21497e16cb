// The Sparkplug B edge node against a real mosquitto and a real journal, seen by a decoding
// subscriber as a SCADA host would see it: births with metrics and units, data with quality,
// the death certificate on a broken connection, rebirth on request, seq wrapping, and a broker
// outage whose missed readings come afterwards from the journal, flagged historical, while live
// readings keep flowing, none lost or duplicated.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import { createLogger } from '../../kernel/log.ts';
import { silentLogger } from '../../kernel/log.ts';
import { Registry } from '../../kernel/metrics.ts';
import type { ReadingInput } from '../../protocol/records.ts';
import { generateKey } from '../../protocol/signature.ts';
import { startMosquitto, type Broker } from '../../test/support/mosquitto.ts';
import { SparkplugSubscriber, type SpMessage } from '../../test/support/sparkplug-subscriber.ts';
import { keepAppending } from '../../test/support/live-writer.ts';
import { tempDir } from '../../test/support/tmp.ts';
import { Journal } from '../journal/journal.ts';
import { SparkplugComponent } from './component.ts';
import { sparkplugSchema, type SparkplugConfig } from './config.ts';
import { encodePayload, REBIRTH } from './payloads.ts';

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker?.stop();
});

let groupCount = 0;

async function edgeNode(overrides: Partial<SparkplugConfig> = {}, log: Logger = silentLogger()) {
  const dir = tempDir('sparkplug');
  const group = `site-${++groupCount}`;
  const config = sparkplugSchema.parse({ url: broker.url, group, reconnectMs: 100, ...overrides });
  const journal = await Journal.open({ dir, device: 'gw1', key: generateKey(), commitMaxWaitMs: 1, batch: { maxRecords: 10 } });
  const metrics = new Registry();
  const nodes: SparkplugComponent[] = [];
  // another publisher on the same data dir and journal is the daemon restarted (a stopped one ignores commits)
  const newNode = () => {
    const node = new SparkplugComponent({
      config, device: 'gw1', dataDir: dir, metrics, log,
      journal,
      onCommitted: (l) => journal.onCommitted(l),
    });
    nodes.push(node);
    return node;
  };
  const node = newNode();
  const sub = new SparkplugSubscriber(broker.url, group);
  await sub.start();
  after(async () => {
    for (const n of nodes) await n.stop();
    await sub.stop();
    await journal.close().catch(() => undefined);
  });
  return { node, journal, sub, group, metrics, dir, newNode };
}

let ts = 1_763_884_800_000;
function reading(sensor: string, value: number | null, extra: Partial<ReadingInput> = {}): ReadingInput {
  return { sensor, metric: 'co2_ppm', ts: ts++, value, unit: 'ppm', quality: { score: 1, flags: [] }, ...extra };
}

const ofType = (type: string, device?: string) => (m: SpMessage) => m.type === type && (device === undefined || m.device === device);

test('NBIRTH, then a DBIRTH with each metric, its datatype and unit, then DDATA with quality and seq', async () => {
  const { node, journal, sub } = await edgeNode();
  await node.start();
  const nbirth = await sub.next(ofType('NBIRTH'), 10_000, true);
  assert.equal(nbirth.node, 'gw1');
  assert.equal(nbirth.seq, 0);
  const bdSeq = nbirth.metrics.find((m) => m.name === 'bdSeq')!;
  assert.equal(bdSeq.type, 'UInt64');
  assert.equal(bdSeq.value, 0);
  assert.deepEqual(nbirth.metrics.find((m) => m.name === REBIRTH)?.value, false);

  const dbirth = sub.next(ofType('DBIRTH', 'co2-1'));
  const ddata = sub.next(ofType('DDATA', 'co2-1'));
  await journal.append(reading('co2-1', 512.5, { quality: { score: 0.4, flags: ['calibration_stale'] }, state: 'WARMING' }));
  const birth = await dbirth;
  const value = birth.metrics.find((m) => m.name === 'co2_ppm')!;
  assert.equal(value.type, 'Double');
  assert.equal(value.properties.engUnit, 'ppm');
  assert.equal(birth.metrics.find((m) => m.name === 'co2_ppm_state')?.type, 'String');
  assert.equal(birth.seq, 1);

  const data = await ddata;
  assert.equal(data.seq, 2);
  const [v, state] = data.metrics;
  assert.equal(v!.value, 512.5);
  assert.equal(v!.timestamp, ts - 1);
  assert.equal(v!.isHistorical, undefined);
  assert.deepEqual(v!.properties, { Quality: 64, quality: 0.4, qualityFlags: 'calibration_stale', journalSeq: 1 });
  assert.equal(state!.name, 'co2_ppm_state');
  assert.equal(state!.value, 'WARMING');

  // a new metric of a known device: DDEATH, then a DBIRTH declaring both; a new device with two metrics at once: no DDEATH
  const death = sub.next(ofType('DDEATH', 'co2-1'));
  const reborn = sub.next(ofType('DBIRTH', 'co2-1'));
  await journal.appendMany([reading('co2-1', 21.5, { metric: 'temp_c', unit: '°C' }), reading('meter', 1, { metric: 'kw' }), reading('meter', 2, { metric: 'kwh' })]);
  assert.ok((await death).seq! < (await reborn).seq!);
  assert.deepEqual((await reborn).metrics.map((m) => m.name).sort(), ['co2_ppm', 'co2_ppm_state', 'temp_c']);
  const meterBirth = await sub.next(ofType('DBIRTH', 'meter'), 10_000, true);
  assert.deepEqual(meterBirth.metrics.map((m) => m.name).sort(), ['kw', 'kwh']);
  assert.equal(sub.messages.filter(ofType('DDEATH', 'meter')).length, 0);

  // a sensor that answered with an error: a null value, bad quality
  const nullData = sub.next(ofType('DDATA', 'co2-1'));
  await journal.append(reading('co2-1', null, { quality: { score: 0, flags: ['sensor_error'] } }));
  const n = (await nullData).metrics[0]!;
  assert.equal(n.value, null);
  assert.equal(n.properties.Quality, 0);
});

test('a connection that breaks leaves NDEATH with the session bdSeq; the next session has the next bdSeq', async () => {
  const { node, sub } = await edgeNode();
  await node.start();
  const first = await sub.next(ofType('NBIRTH'), 10_000, true);
  const bd = first.metrics.find((m) => m.name === 'bdSeq')!.value as number;
  const death = sub.next(ofType('NDEATH'));
  const rebirth = sub.next(ofType('NBIRTH'));
  // cut the TCP connection under the client, as a dropped link would: the broker sends the will
  (node as unknown as { session: { link: { client: { stream: { destroy(): void } } } } }).session.link.client.stream.destroy();
  const d = await death;
  assert.equal(d.seq, undefined);
  assert.equal(d.metrics.find((m) => m.name === 'bdSeq')?.value, bd);
  const again = await rebirth;
  assert.equal(again.metrics.find((m) => m.name === 'bdSeq')?.value, (bd + 1) % 256);
  assert.equal(again.seq, 0);
});

test('NCMD Node Control/Rebirth = true: NBIRTH and every DBIRTH again; an undecodable NCMD is counted and ignored', async () => {
  const { node, journal, sub, group, metrics } = await edgeNode();
  await node.start();
  await sub.next(ofType('NBIRTH'), 10_000, true);
  const firstData = sub.next(ofType('DDATA', 'b'));
  await journal.appendMany([reading('a', 1), reading('b', 2)]);
  await firstData;

  const cmd = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  await cmd.publishAsync(`spBv1.0/${group}/NCMD/gw1`, Buffer.from('not protobuf \xff\xff'), { qos: 1 });
  const nbirth = sub.next(ofType('NBIRTH'));
  const births = Promise.all([sub.next(ofType('DBIRTH', 'a')), sub.next(ofType('DBIRTH', 'b'))]);
  const rebirth = Buffer.from(encodePayload({ timestamp: Date.now(), metrics: [{ name: REBIRTH, type: 'Boolean', value: true }] }));
  await cmd.publishAsync(`spBv1.0/${group}/NCMD/gw1`, rebirth, { qos: 1 });
  assert.equal((await nbirth).seq, 0);
  const [a, b] = await births;
  assert.equal(a.metrics[0]!.value, 1);
  assert.equal(b.metrics[0]!.value, 2);

  // a flood of rebirth requests (and an oversized NCMD) gets no more than one rebirth a second
  const nbirths = () => sub.messages.filter(ofType('NBIRTH')).length;
  const count = nbirths();
  await cmd.publishAsync(`spBv1.0/${group}/NCMD/gw1`, Buffer.alloc(100_000), { qos: 1 });
  for (let i = 0; i < 20; i++) await cmd.publishAsync(`spBv1.0/${group}/NCMD/gw1`, rebirth, { qos: 1 });
  await cmd.endAsync();
  await sleep(300);
  assert.ok(nbirths() - count <= 1, `${nbirths() - count} rebirths`);
  assert.match(await metrics.getSingleMetricAsString('fieldproof_sparkplug_bad_commands_total'), / 2$/m);
});

test('an NCMD too large to hold ends the connection as soon as its header arrives; counted, and the node is back with its next bdSeq', async () => {
  const { node, sub, group, metrics } = await edgeNode();
  await node.start();
  const first = await sub.next(ofType('NBIRTH'), 10_000, true);
  const bd = first.metrics.find((m) => m.name === 'bdSeq')!.value as number;
  const rebirth = sub.next(ofType('NBIRTH'));
  // The client library would hold the whole packet (up to 256 MiB) before the 64 KiB check could see it.
  const cmd = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  await cmd.publishAsync(`spBv1.0/${group}/NCMD/gw1`, Buffer.alloc(8 * 1024 * 1024), { qos: 1 });
  await cmd.endAsync();
  const again = await rebirth;
  assert.equal(again.metrics.find((m) => m.name === 'bdSeq')?.value, (bd + 1) % 256, 'a new session');
  assert.match(await metrics.getSingleMetricAsString('fieldproof_sparkplug_bad_commands_total'), / 1$/m);
});

test('seq counts every message after NBIRTH and wraps from 255 to 0', async () => {
  const { node, journal, sub } = await edgeNode();
  await node.start();
  await sub.next(ofType('NBIRTH'), 10_000, true);
  const from = sub.messages.length - 1;
  const last = sub.next((m) => m.type === 'DDATA' && m.device === 's-199');
  // 200 new sensors: a DBIRTH and a DDATA each, 400 messages after the NBIRTH
  await journal.appendMany(Array.from({ length: 200 }, (_, i) => reading(`s-${i}`, i)));
  await last;
  const seqs = sub.messages.slice(from).map((m) => m.seq);
  assert.equal(seqs[0], 0);
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], i % 256, `message ${i}`);
  assert.ok(seqs.length > 300);
});

test('a broker outage: the missed readings arrive afterwards in order, historical, live ones keep flowing, none lost or duplicated', async () => {
  const { node, journal, sub } = await edgeNode({ reconnectMs: 1500, replayPerSecond: 300 });
  await node.start();
  await sub.next(ofType('NBIRTH'), 10_000, true);
  const writer = keepAppending(() => journal.append(reading('live-1', 1)));
  await sleep(300);

  const port = broker.port;
  await broker.stop();
  // the outage: readings keep being journaled
  await journal.appendMany(Array.from({ length: 400 }, (_, i) => reading(`missed-${i % 4}`, i)));
  await sleep(300);
  broker = await startMosquitto({ port });

  // live readings keep being written until the backlog has been sent, and a little after
  const isMissed = (m: SpMessage) => m.type === 'DDATA' && m.device!.startsWith('missed-');
  const deadline = Date.now() + 20_000;
  while (sub.messages.filter(isMissed).reduce((n, m) => n + m.metrics.length, 0) < 400 && Date.now() < deadline) await sleep(50);
  await sleep(200);
  await writer.stop();
  const lastSeq = journal.stats().lastSeq;
  while (new Set(sub.dataSeqs()).size < lastSeq && Date.now() < deadline) await sleep(50);

  const seqs = sub.dataSeqs();
  const held = new Set(seqs);
  const missing = Array.from({ length: lastSeq }, (_, i) => i + 1).filter((s) => !held.has(s));
  assert.deepEqual(missing, [], 'readings lost');
  assert.equal(seqs.length, held.size, 'readings duplicated');

  const data = sub.messages.filter((m) => m.type === 'DDATA').flatMap((m) => m.metrics.map((x) => ({ ...x, device: m.device! })));
  const historical = data.filter((x) => x.isHistorical);
  const missed = data.filter((x) => x.device.startsWith('missed-'));
  assert.equal(missed.length, 400);
  assert.ok(missed.every((x) => x.isHistorical), 'readings of the outage flagged historical');
  // in journal order per Sparkplug device (a message holds one device's readings)
  for (const device of new Set(historical.map((x) => x.device))) {
    const histSeqs = historical.filter((x) => x.device === device).map((x) => x.properties.journalSeq as number);
    assert.deepEqual(histSeqs, [...histSeqs].sort((x, y) => x - y), `historical readings of ${device} in seq order`);
  }
  // live readings went out while the backlog was still being sent
  const firstHistorical = data.findIndex((x) => x.isHistorical);
  const lastHistorical = data.findLastIndex((x) => x.isHistorical);
  assert.ok(data.slice(firstHistorical, lastHistorical).some((x) => !x.isHistorical), 'live data held back by the backlog');
});

test('a restart resumes from the saved cursor: what was journaled meanwhile arrives historical, nothing before it again', async () => {
  const { node, journal, sub, newNode } = await edgeNode();
  await node.start();
  await sub.next(ofType('NBIRTH'), 10_000, true);
  const before = sub.next((m) => m.type === 'DDATA' && m.metrics.some((x) => x.properties.journalSeq === 50));
  await journal.appendMany(Array.from({ length: 50 }, (_, i) => reading(`r-${i % 3}`, i)));
  await before;
  await node.stop();
  const death = sub.messages.findLast(ofType('NDEATH'));
  assert.ok(death, 'a clean stop publishes NDEATH');

  await journal.appendMany(Array.from({ length: 30 }, (_, i) => reading(`r-${i % 3}`, 100 + i)));
  const restarted = newNode();
  const last = sub.next((m) => m.type === 'DDATA' && m.metrics.some((x) => x.properties.journalSeq === 80));
  await restarted.start();
  await last;
  await sleep(200);
  const seqs = sub.dataSeqs();
  assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: 80 }, (_, i) => i + 1));
  const after = sub.messages.slice(sub.messages.indexOf(death)).filter(ofType('DDATA')).flatMap((m) => m.metrics);
  assert.ok(after.length === 30 && after.every((x) => x.isHistorical));
});

test('credentials stay out of the log', async () => {
  const password = 'sp-secret-93ad1f';
  const secured = await startMosquitto({ users: { gw1: password } });
  after(() => secured.stop());
  let text = '';
  const log = createLogger('fieldproof', 'debug', new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } }));
  const { node: wrong } = await edgeNode({ url: `mqtt://gw1:${password}-wrong@127.0.0.1:${secured.port}` }, log);
  await wrong.start();
  await sleep(500);
  await wrong.stop();
  const sub = new SparkplugSubscriber(`mqtt://gw1:${password}@127.0.0.1:${secured.port}`, 'creds');
  await sub.start();
  after(() => sub.stop());
  const { node: right } = await edgeNode({ url: secured.url, username: 'gw1', password, group: 'creds' }, log);
  await right.start();
  await sub.next(ofType('NBIRTH'), 10_000, true);
  await right.stop();
  assert.match(text, /sparkplug connection problem/);
  assert.match(text, /sparkplug connected/);
  assert.doesNotMatch(text, new RegExp(password));
});

test('qos: 0, as the specification asks: births and data flow, and the cursor advances as messages are written', async () => {
  const { node, journal, sub, dir } = await edgeNode({ qos: 0 });
  await node.start();
  await sub.next(ofType('NBIRTH'), 10_000, true);
  const data = sub.next(ofType('DDATA', 'q0'));
  await journal.appendMany([reading('q0', 7), reading('q0', 8)]);
  assert.deepEqual((await data).metrics.map((m) => m.value), [7, 8]);
  await node.stop();
  const saved = JSON.parse(readFileSync(join(dir, 'sparkplug.json'), 'utf8')) as { through: number };
  assert.equal(saved.through, 2);
});

test('a new recovery epoch: its readings are published though their seqs start again below the cursor', async () => {
  const { node, journal, sub } = await edgeNode();
  await journal.appendMany(Array.from({ length: 30 }, (_, i) => reading('old-1', i)));
  await node.start();
  await sub.next(ofType('NBIRTH'), 10_000, true);
  const deadline = Date.now() + 10_000;
  const count = (device: string) => sub.messages.filter((m) => m.type === 'DDATA' && m.device === device).reduce((n, m) => n + m.metrics.length, 0);
  while (count('old-1') < 30 && Date.now() < deadline) await sleep(50);
  // The sink holds all three batches; the journal starts epoch 2 with only its restart record.
  await journal.acknowledge(3);
  await journal.startEpoch({ reason: 'journal_lost', from: { epoch: 1, batch: 3, hash: 'ab'.repeat(32) }, heldThrough: 3 });
  assert.equal(journal.stats().lastSeq, 1);
  await journal.appendMany([reading('new-1', 1), reading('new-1', 2), reading('new-1', 3)]);
  while (count('new-1') < 3 && Date.now() < deadline) await sleep(50);
  assert.equal(count('new-1'), 3, 'the new epoch\'s readings reach the broker');
  const seqs = sub.messages.filter((m) => m.type === 'DDATA' && m.device === 'new-1').flatMap((m) => m.metrics.map((x) => x.properties.journalSeq));
  assert.deepEqual(seqs, [2, 3, 4]);
  // the journal's hold for the broker starts over with the epoch, and moves with the cursor's saves
  const held = Date.now() + 5000;
  while ((journal.heldThrough('sparkplug') ?? 0) < 4 && Date.now() < held) await sleep(50);
  assert.equal(journal.heldThrough('sparkplug'), 4);
});
