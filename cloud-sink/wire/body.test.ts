// A body that declares a small Content-Length is read whole and inflated in one bounded call; the
// same bytes sent chunked (no length) go through the streaming gunzip. Both ways must give the
// same records, or the same refusal, for every body: sound ones, random and mutated ones, gzip
// that is truncated, not gzip at all, or inflates just below, at or past the header window, and
// limits below the window.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { COLUMNAR_CONTENT_TYPE, encodeColumnar } from '../../protocol/columnar/encoder.ts';
import { generateKey } from '../../protocol/signature.ts';
import { makeChain } from '../../test/support/sink.ts';
import { BodyBudget, HEADER_WINDOW_BYTES, readBatchBody, type BodyLimits } from './body.ts';
import { WireError } from './errors.ts';

type Outcome = { ok: unknown } | { status: number; error: string };

/** A server reading each batch body under the limits named by the request's path. */
function bodyServer(limitsFor: (path: string) => BodyLimits): Server {
  const budget = new BodyBudget(64 * 1024 * 1024);
  return createServer((req, res) => {
    void (async () => {
      let outcome: Outcome;
      try {
        const read = await readBatchBody(req, limitsFor(req.url ?? '/'), budget, async (header) => {
          const h = header as { device?: string; count?: number };
          if (h?.device === 'refused') return { proceed: false, answer: 'refused on its header' };
          return { proceed: true, records: typeof h?.count === 'number' ? h.count : 0 };
        });
        outcome = 'answered' in read ? { ok: read.answered } : { ok: read.decoded };
      } catch (err) {
        if (!(err instanceof WireError)) throw err;
        outcome = { status: err.status, error: err.message };
      }
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify(outcome));
    })();
  });
}

/** Post `body` with its length declared (the whole-body path) or chunked (the streaming path). */
function post(port: number, path: string, body: Buffer, type: string, gzip: boolean, declared: boolean): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path, method: 'POST',
      headers: { 'content-type': type, ...(gzip ? { 'content-encoding': 'gzip' } : {}), ...(declared ? { 'content-length': body.length } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Outcome));
    });
    req.on('error', reject);
    // chunked: sent in pieces, so that the stream sees more than one
    if (declared) req.end(body);
    else {
      for (let at = 0; at < body.length; at += 997) req.write(body.subarray(at, at + 997));
      req.end();
    }
  });
}

const LIMITS: BodyLimits = { maxBodyBytes: 1024 * 1024, maxDecodedBytes: 8 * 1024 * 1024, maxRecords: 10_000, maxJsonDepth: 32 };

describe('batch body: whole and streamed', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = bodyServer((path) => (path === '/small-limits' ? { ...LIMITS, maxDecodedBytes: 4096, maxBodyBytes: 2048 } : LIMITS));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  async function same(body: Buffer, type: string, gzip: boolean, path = '/'): Promise<Outcome> {
    assert.ok(body.length <= HEADER_WINDOW_BYTES, 'the declared length must be small enough for the whole-body path');
    const whole = await post(port, path, body, type, gzip, true);
    const streamed = await post(port, path, body, type, gzip, false);
    assert.deepEqual(whole, streamed);
    return whole;
  }

  /**
   * A broken body is refused both ways with the same status; which fault the one-line message
   * names first (a bad envelope or the gzip under it) depends on where the stream's chunks end,
   * for the streaming path alone as much as between the two.
   */
  async function sameRefusal(body: Buffer, type: string, gzip: boolean): Promise<void> {
    const whole = await post(port, '/', body, type, gzip, true);
    const streamed = await post(port, '/', body, type, gzip, false);
    if ('ok' in whole || 'ok' in streamed) return assert.deepEqual(whole, streamed);
    assert.equal(whole.status, streamed.status);
    for (const o of [whole, streamed]) assert.ok(o.error.length > 0 && !o.error.includes('\n'), o.error);
  }

  const key = generateKey();
  const chain = makeChain('dev-1', key, 3, 400, { sensors: 7, withGap: true });
  const columnar = chain.map((b) => encodeColumnar(b.header, b.records as unknown as Record<string, unknown>[]));
  const json = chain.map((b) => Buffer.from(JSON.stringify({ header: b.header, records: b.records })));

  it('gives the same records for sound bodies, gzip or not, columnar or JSON', async () => {
    for (const [i, plain] of columnar.entries()) {
      const a = await same(gzipSync(plain), COLUMNAR_CONTENT_TYPE, true);
      assert.ok('ok' in a && (a.ok as { lines: string[] }).lines.length === chain[i]!.records.length);
      await same(plain, COLUMNAR_CONTENT_TYPE, false);
    }
    // a JSON body of 400 records inflates past the header window: the whole-body path hands it to the stream
    for (const plain of json) {
      assert.ok(plain.length > HEADER_WINDOW_BYTES);
      const a = await same(gzipSync(plain), 'application/json', true);
      assert.ok('ok' in a);
    }
  });

  it('gives the same refusal for truncated, mutated and foreign bodies', async () => {
    const gz = gzipSync(columnar[0]!);
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const bodies: Buffer[] = [Buffer.alloc(0), Buffer.from('not gzip at all'), gz.subarray(0, 10), gz.subarray(0, gz.length - 4), Buffer.concat([gz, Buffer.from('trailing')])];
    for (let k = 0; k < 40; k++) {
      const m = Buffer.from(gz);
      for (let j = 0; j <= rand(4); j++) m[rand(m.length)] = rand(256);
      bodies.push(m);
    }
    for (const b of bodies) {
      await sameRefusal(b, COLUMNAR_CONTENT_TYPE, true);
      await sameRefusal(b, 'application/json', true);
    }
    for (let k = 0; k < 20; k++) {
      const m = Buffer.from(columnar[1]!);
      m[rand(m.length)] = rand(256);
      await sameRefusal(m.subarray(0, rand(m.length) + 1), COLUMNAR_CONTENT_TYPE, false);
    }
  });

  it('gives the same answer around the header window and under limits below it', async () => {
    const header = chain[0]!.header;
    const envelope = (fill: number) => Buffer.from(`{"header":${JSON.stringify(header)},"records":[${'"' + 'x'.repeat(fill) + '"'}]}`);
    const base = envelope(0).length - 2;
    for (const size of [HEADER_WINDOW_BYTES - 1, HEADER_WINDOW_BYTES, HEADER_WINDOW_BYTES + 1, 4 * HEADER_WINDOW_BYTES]) {
      const out = await same(gzipSync(envelope(size - base - 2)), 'application/json', true);
      assert.ok('ok' in out || 'status' in out);
    }
    // decoded bytes over a limit below the window, and a body over the wire limit
    const over = await same(gzipSync(Buffer.alloc(8000, 'x')), 'application/json', true, '/small-limits');
    assert.deepEqual(over, { status: 413, error: 'body is over the limit of 4096 bytes once decompressed' });
    const wire = await same(Buffer.alloc(1500, 'x'), 'application/json', false, '/small-limits');
    assert.equal((wire as { status: number }).status, 400);
    const refusedHeader = Buffer.from(JSON.stringify({ header: { ...header, device: 'refused' }, records: [] }));
    assert.deepEqual(await same(gzipSync(refusedHeader), 'application/json', true), { ok: 'refused on its header' });
  });

  it('checks the header of a small body that comes in pieces as soon as the header is there, not once the rest has come', async () => {
    const header = { ...chain[0]!.header, device: 'refused' };
    const body = Buffer.from(JSON.stringify({ header, records: chain[0]!.records }));
    const small = body.subarray(0, 4000);
    const answer = await new Promise<Outcome>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1', port, path: '/', method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': small.length },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Outcome));
      });
      req.on('error', reject);
      // the header and a little more, and then nothing: the answer must come all the same
      req.write(small.subarray(0, 1500));
      req.flushHeaders();
      setTimeout(() => req.destroy(), 5000).unref();
    });
    assert.deepEqual(answer, { ok: 'refused on its header' });
  });
});
