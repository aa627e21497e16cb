// The sink against clients that lie, stall or flood, over real sockets: what each gets back, and
// that the sink's answer comes before the client has sent what it holds back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Client, request } from 'undici';
import { generateKey } from '../protocol/signature.ts';
import { headerHash, signBatch, signHeader } from '../protocol/batch.ts';
import { restartRecord } from '../protocol/restart.ts';
import { MAX_PENDING_RESTARTS } from '../cloud-sink/restart-gate.ts';
import { MAX_EQUIVOCATION_REPORTS } from '../cloud-sink/ingest.ts';
import { sinkConfig, type SinkConfigInput } from '../cloud-sink/config.ts';
import { gzipBomb } from '../bench/hostile/bombs.ts';
import { rawRequest, sendRaw, type RawAnswer, type RawPiece } from '../bench/hostile/raw-client.ts';
import { Sink } from '../cloud-sink/sink.ts';
import { getJson, makeChain, postJson, tempDir } from '../test/support/sink.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startSink(devices: { id: string; key: string }[], limits: SinkConfigInput['limits']) {
  const tmp = tempDir();
  const sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: tmp.dir, devices, limits }));
  await sink.start();
  return { sink, port: Number(new URL(sink.url).port), cleanup: async () => { await sink.stop(); tmp.cleanup(); } };
}

function body(a: RawAnswer): Record<string, unknown> {
  return JSON.parse(a.body) as Record<string, unknown>;
}

/** Open a connection and send part of a request, keeping it open (a slot held). */
function holdOpen(port: number, bytes: Buffer, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => {
      s.write(bytes);
      resolve(s);
    });
    s.on('error', () => undefined);
  });
}

async function metric(url: string, name: string, labels: string): Promise<number> {
  const text = (await getJson(`${url}/metrics`)).body.text as string;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('sink: the order of checks, and bodies bounded while they arrive', () => {
  const key = generateKey();
  const stolen = generateKey();
  let s: Awaited<ReturnType<typeof startSink>>;
  const target = () => ({ host: '127.0.0.1', port: s.port });
  const chain = makeChain('site-a', key, 2, 30);
  before(async () => {
    s = await startSink([{ id: 'site-a', key: key.public }, { id: 'site-s', key: stolen.public }], { headersTimeoutMs: 2000, requestTimeoutMs: 4000, refusalsBeforeBlock: 0 });
    assert.equal((await postJson(s.sink.url, chain[0]!)).status, 200);
  });
  after(() => s.cleanup());

  /** A POST whose body is only partly sent: an answer can only come from what arrived. */
  function partialPost(full: Buffer, sent: number, type = 'application/json', encoding = 'gzip'): RawPiece[] {
    const head = rawRequest('POST', '/v1/batches', { host: 's', 'content-type': type, 'content-encoding': encoding, 'content-length': full.length });
    return [{ bytes: Buffer.concat([head, full.subarray(0, sent)]) }];
  }

  it('refuses a gzip bomb of an unregistered device on its header, before the body has arrived', async () => {
    const header = makeChain('nobody', key, 1, 2)[0]!.header;
    const bomb = await gzipBomb(`{"header":${JSON.stringify(header)},"records":["`, 256 * 1024 * 1024);
    const a = await sendRaw(target(), partialPost(bomb, 4096), { deadlineMs: 3000 });
    assert.deepEqual(a.statuses, [403]);
    assert.equal(body(a).code, 'unknown_device');
  });

  it('cuts off a bomb behind a rightly signed header at maxDecodedBytes, with most of it unsent', async () => {
    const { sig: _s, v: _v, key: _k, ...fields } = makeChain('site-s', stolen, 1, 1000)[0]!.header;
    const header = signHeader({ ...fields, batch: 99 }, stolen);
    const bomb = await gzipBomb(`{"header":${JSON.stringify(header)},"records":["`, 1024 * 1024 * 1024);
    // 64 KiB of it inflate to about 64 MiB, over the 8 MiB limit; the rest (about 1 MiB) is never sent
    const a = await sendRaw(target(), partialPost(bomb, 64 * 1024), { deadlineMs: 3000 });
    assert.deepEqual(a.statuses, [413]);
    assert.match(String(body(a).error), /over the limit of 8388608 bytes once decompressed/);
  });

  it('lets a body that has not shown a verified header hold 64 KiB at most', async () => {
    const spaces = await gzipBomb('', 64 * 1024 * 1024, Buffer.alloc(1024 * 1024, ' '));
    const a = await sendRaw(target(), partialPost(spaces, spaces.length), { deadlineMs: 3000 });
    assert.deepEqual(a.statuses, [400]);
    assert.match(String(body(a).error), /header must come within the first 65536 bytes/);
  });

  it('refuses nesting deeper than the limit and more records than the header signed, while parsing', async () => {
    const h = JSON.stringify(chain[1]!.header);
    const deep = Buffer.from(`{"header":${h},"records":[${'['.repeat(1_000_000)}`);
    const d = await sendRaw(target(), partialPost(deep, 200_000, 'application/json', 'identity'), { deadlineMs: 3000 });
    assert.deepEqual(d.statuses, [400]);
    assert.match(String(body(d).error), /nested deeper than 16 levels/);
    const many = Buffer.from(`{"header":${h},"records":[${'{},'.repeat(1_000_000)}{}]}`);
    const m = await sendRaw(target(), partialPost(many, 200_000, 'application/json', 'identity'), { deadlineMs: 3000 });
    assert.deepEqual(m.statuses, [422]);
    assert.match(String(body(m).error), /more than 30 records/);
  });

  it('wants the header before the records, and no other fields', async () => {
    const b = chain[1]!;
    const first = await postJson(s.sink.url, { records: b.records, header: b.header } as never);
    assert.equal(first.status, 400);
    assert.match(String(first.body.error), /header must come before body.records/);
    const extra = await postJson(s.sink.url, { ...b, more: 1 } as never);
    assert.equal(extra.status, 400);
    assert.match(String(extra.body.error), /unknown field more/);
  });

  it('answers a header it holds as a duplicate without reading the records, and stores nothing', async () => {
    const junk = await postJson(s.sink.url, { header: chain[0]!.header, records: [{ not: 'a record' }] });
    assert.equal(junk.status, 200);
    assert.equal(junk.body.status, 'duplicate');
    assert.equal((await s.sink.store.head('site-a')).batch, 1);
    assert.deepEqual((await s.sink.store.records('site-a', 1)).map((l) => JSON.parse(l)), chain[0]!.records);
  });

  it('keeps the connection of a device that sends a batch again, reading and dropping the rest of its body', async () => {
    const client = new Client(s.sink.url, { pipelining: 1 });
    let connects = 0;
    client.on('connect', () => connects++);
    for (const gzip of [false, true, false]) {
      const text = JSON.stringify(chain[0]);
      const res = await client.request({
        path: '/v1/batches', method: 'POST', body: gzip ? gzipSync(text) : text,
        headers: { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
      });
      assert.equal(res.statusCode, 200);
      assert.equal(((await res.body.json()) as { status: string }).status, 'duplicate');
    }
    const head = await client.request({ path: '/v1/devices/site-a/head', method: 'GET' });
    assert.equal(head.statusCode, 200);
    await head.body.text();
    assert.equal(connects, 1);
    await client.close();
  });

  it('takes the next batch in either encoding after all of that', async () => {
    const r = await postJson(s.sink.url, chain[1]!, true);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'stored');
  });
});

describe('sink: the bytes of bodies held at once', () => {
  it('refuses a verified batch with 429 when the bodies being read would go over limits.maxBufferedBytes', async () => {
    const key = generateKey();
    const s = await startSink([{ id: 'site-a', key: key.public }], { maxBufferedBytes: 50_000, refusalsBeforeBlock: 0 });
    try {
      const [small, big] = [makeChain('site-a', key, 1, 20)[0]!, makeChain('site-a', key, 1, 1000)[0]!];
      const busy = await request(`${s.sink.url}/v1/batches`, { method: 'POST', body: JSON.stringify(big), headers: { 'content-type': 'application/json' } });
      assert.equal(busy.statusCode, 429);
      assert.equal(busy.headers['retry-after'], '1');
      assert.equal(((await busy.body.json()) as { code: string }).code, 'busy');
      assert.equal((await postJson(s.sink.url, small)).status, 200, 'the budget is given back');
    } finally {
      await s.cleanup();
    }
  });
});

describe('sink: paths, names and windows', () => {
  const key = generateKey();
  let s: Awaited<ReturnType<typeof startSink>>;
  before(async () => {
    s = await startSink([{ id: 'site-a', key: key.public }], { maxReportSpanMs: 7 * 24 * 3600_000, refusalsBeforeBlock: 0 });
  });
  after(() => s.cleanup());

  it('answers a malformed percent escape with 400, not 500', async () => {
    for (const path of ['/v1/devices/%E0%A4%A/head', '/v1/proofs/%/1', '/v1/reports/%C0%AF']) {
      const r = await getJson(`${s.sink.url}${path}`);
      assert.equal(r.status, 400, path);
      assert.equal(r.body.code, 'bad_url');
    }
  });

  it('checks device names wherever they come in', async () => {
    for (const path of ['/v1/devices/a%20b/head', '/v1/proofs/..%2Fx/1', '/v1/reports/-x', `/v1/devices/${'x'.repeat(129)}/head`]) {
      const r = await getJson(`${s.sink.url}${path}`);
      assert.equal(r.status, 400, path);
      assert.equal(r.body.code, 'bad_device_name', path);
    }
  });

  it('answers 404 for a device it neither knows nor holds, and keeps no trace of the name', async () => {
    for (let i = 0; i < 50; i++) {
      const r = await getJson(`${s.sink.url}/v1/devices/stranger-${i}/head`);
      assert.equal(r.status, 404);
      assert.equal(r.body.code, 'unknown_device');
    }
    const rep = await getJson(`${s.sink.url}/v1/reports/stranger-1?from=0&to=1000`);
    assert.equal(rep.status, 404);
    const known = await getJson(`${s.sink.url}/v1/devices/site-a/head`);
    assert.equal(known.status, 200);
    assert.equal(known.body.batch, 0);
  });

  it('caps a report window at limits.maxReportSpanMs', async () => {
    const week = 7 * 24 * 3600_000;
    const ok = await getJson(`${s.sink.url}/v1/reports/site-a?from=0&to=${week}`);
    assert.equal(ok.status, 200);
    const long = await getJson(`${s.sink.url}/v1/reports/site-a?from=0&to=${week + 1}`);
    assert.equal(long.status, 400);
    assert.equal(long.body.code, 'window_too_long');
  });
});

describe('sink: what a client can hold', () => {
  const key = generateKey();
  let s: Awaited<ReturnType<typeof startSink>>;
  const held: Socket[] = [];
  before(async () => {
    s = await startSink([{ id: 'site-a', key: key.public }], {
      maxRequestsPerClient: 2, maxRequests: 3, maxConnectionsPerClient: 4, headersTimeoutMs: 600, requestTimeoutMs: 1500,
      refusalsBeforeBlock: 5, refusalWindowMs: 10_000, blockMs: 60_000, maxRequestsPerSocket: 3,
    });
  });
  after(async () => {
    for (const h of held) h.destroy();
    await s.cleanup();
  });
  const slowPost = rawRequest('POST', '/v1/batches', { host: 's', 'content-type': 'application/json', 'content-length': 1000 }, '{"hea');
  const get = (path: string, localAddress?: string) => sendRaw({ host: '127.0.0.1', port: s.port, localAddress }, [{ bytes: rawRequest('GET', path, { host: 's', connection: 'close' }) }], { deadlineMs: 3000 });

  it('answers 429 with Retry-After beyond the requests in flight per client and in all, and /healthz still at once', async () => {
    held.push(await holdOpen(s.port, slowPost), await holdOpen(s.port, slowPost));
    await sleep(100);
    const third = await get('/v1/anchors');
    assert.deepEqual(third.statuses, [429]);
    assert.equal(body(third).code, 'client_requests');
    const res = await request(`${s.sink.url}/v1/anchors`);
    await res.body.text();
    assert.equal(res.statusCode, 429);
    assert.equal(res.headers['retry-after'], '1');
    held.push(await holdOpen(s.port, slowPost, '127.0.0.2'));
    await sleep(100);
    const global = await get('/v1/anchors', '127.0.0.3');
    assert.deepEqual(global.statuses, [429]);
    assert.equal(body(global).code, 'server_requests');
    const health = await get('/healthz', '127.0.0.3');
    assert.deepEqual(health.statuses, [200]);
  });

  it('answers a request that stalls 408 and frees its slot', async () => {
    const slowest = held.splice(0);
    const closed = await Promise.all(slowest.map((h) => new Promise<string>((resolve) => {
      let got = '';
      h.on('data', (d) => (got += d));
      h.on('close', () => resolve(got));
    })));
    for (const text of closed) assert.match(text, /^HTTP\/1\.1 408 [^]*"code":"timeout"/);
    assert.deepEqual((await get('/v1/anchors', '127.0.0.5')).statuses, [200]);
  });

  it('answers headers sent a byte at a time 408 after headersTimeoutMs', async () => {
    const bytes = rawRequest('GET', '/v1/anchors', { host: 's', 'x-pad': 'y'.repeat(100) });
    const pieces = [...bytes].map((b) => ({ bytes: Buffer.from([b]), pauseMs: 50 }));
    const a = await sendRaw({ host: '127.0.0.1', port: s.port, localAddress: '127.0.0.6' }, pieces, { deadlineMs: 5000 });
    assert.deepEqual(a.statuses, [408]);
    assert.ok(a.ms < 3000, `answered after ${a.ms} ms`);
  });

  it('closes connections beyond maxConnectionsPerClient at once', async () => {
    const idle = await Promise.all([1, 2, 3, 4].map(() => holdOpen(s.port, Buffer.alloc(0), '127.0.0.7')));
    held.push(...idle);
    await sleep(50);
    const fifth = await get('/v1/anchors', '127.0.0.7');
    assert.equal(fifth.closedUnanswered, true);
    assert.deepEqual((await get('/v1/anchors', '127.0.0.8')).statuses, [200]);
    for (const h of held.splice(0)) h.destroy();
  });

  it('tells the last request a connection may carry to close, and refuses those pipelined beyond it', async () => {
    const reqs = Buffer.concat([1, 2, 3, 4].map(() => rawRequest('GET', '/healthz', { host: 's' })));
    const a = await sendRaw({ host: '127.0.0.1', port: s.port, localAddress: '127.0.0.9' }, [{ bytes: reqs }], { deadlineMs: 3000, responses: 4 });
    assert.deepEqual(a.statuses, [200, 200, 200]);
  });

  it('blocks an address whose requests keep being refused, and no other', async () => {
    for (let i = 0; i < 5; i++) assert.deepEqual((await get('/v1/devices/%E0%A4%A/head', '127.0.0.10')).statuses, [400]);
    const blocked = await get('/v1/anchors', '127.0.0.10');
    assert.ok(blocked.closedUnanswered, 'a new connection from a blocked address is closed');
    assert.deepEqual((await get('/v1/anchors', '127.0.0.11')).statuses, [200]);
    assert.ok(await metric(s.sink.url, 'fieldproof_sink_http_refused_total', 'reason="blocked"') >= 1);
  });

  it('counts every refusal by status and reason', async () => {
    for (const reason of ['client_requests', 'server_requests', 'timeout', 'client_connections', 'bad_url']) {
      assert.ok(await metric(s.sink.url, 'fieldproof_sink_http_refused_total', `reason="${reason}"`) >= 1, reason);
    }
  });
});

describe('sink: a device key that keeps equivocating', () => {
  const key = generateKey();
  const tmp = tempDir();
  let sink: Sink;
  before(async () => {
    sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: tmp.dir, adminToken: 'admin-token-0123456789', devices: [{ id: 'site-e', key: key.public }] }));
    await sink.start();
  });
  after(async () => {
    await sink.stop();
    tmp.cleanup();
  });

  it('keeps a bounded number of its reports, refuses and counts every offer, and still takes its next batch', async () => {
    // A stolen key (or broken firmware) signs batch 1 again and again, a millisecond apart: each a
    // new conflicting pair. Kept, each would be a synced write, a log line and a row every fleet
    // view reads back, without end.
    const chain = makeChain('site-e', key, 2, 3);
    assert.equal((await postJson(sink.url, chain[0]!)).status, 200);
    const offers = MAX_EQUIVOCATION_REPORTS + 8;
    for (let i = 1; i <= offers; i++) {
      const twin = signBatch('site-e', key, 1, chain[0]!.records, '0'.repeat(64), chain[0]!.header.created + i);
      const r = await postJson(sink.url, twin);
      assert.deepEqual([r.status, r.body.code], [409, 'equivocation']);
    }
    const reports = await getJson(`${sink.url}/v1/equivocations`, { authorization: 'Bearer admin-token-0123456789' });
    assert.equal((reports.body.equivocations as unknown[]).length, MAX_EQUIVOCATION_REPORTS);
    assert.equal((await getJson(`${sink.url}/v1/fleet`)).body.devices instanceof Array, true);
    const text = (await getJson(`${sink.url}/metrics`)).body.text as string;
    assert.match(text, new RegExp(`^fieldproof_sink_equivocations_total ${offers}$`, 'm'));
    assert.match(text, /^fieldproof_sink_equivocation_reports_not_kept_total 8$/m);
    assert.equal((await postJson(sink.url, chain[1]!)).status, 200);
  });

  it('notes a bounded number of restarts waiting for an admin, however many epochs the key asks for', async () => {
    const held = makeChain('site-e', key, 2, 3)[1]!.header;
    const from = { epoch: 1, batch: held.batch, hash: headerHash(held) };
    const ask = (epoch: number) => postJson(sink.url, signBatch('site-e', key, 1, [restartRecord('site-e', epoch, 'operator', from, 0, 1)], from.hash, 2, epoch));
    for (let epoch = 2; epoch < 2 + MAX_PENDING_RESTARTS; epoch++) assert.equal((await ask(epoch)).body.code, 'restart_pending');
    for (let epoch = 2 + MAX_PENDING_RESTARTS; epoch < 6 + MAX_PENDING_RESTARTS; epoch++) {
      const r = await ask(epoch);
      assert.deepEqual([r.status, r.body.code], [409, 'too_many_restarts']);
    }
    assert.equal((await ask(3)).body.code, 'restart_pending', 'one that waits already may be offered again');
    const listed = await getJson(`${sink.url}/v1/restarts?device=site-e`, { authorization: 'Bearer admin-token-0123456789' });
    assert.equal((listed.body.restarts as unknown[]).length, MAX_PENDING_RESTARTS);
    const text = (await getJson(`${sink.url}/metrics`)).body.text as string;
    assert.match(text, /^fieldproof_sink_restarts_total\{outcome="too_many"\} 4$/m);
  });
});
