// Receipts between the real uplink and a real sink over HTTP: the device deletes a batch only on a
// receipt for exactly its header hash from the key it trusts. Forged answers come from a real HTTP
// proxy in front of the sink that rewrites the receipts in the sink's answers.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { signReceipt, type Receipt } from '../protocol/receipt.ts';
import { generateKey, type DeviceKey } from '../protocol/signature.ts';
import type { ReadingInput } from '../protocol/records.ts';
import { sinkConfig, type SinkConfigInput } from '../cloud-sink/config.ts';
import { Sink } from '../cloud-sink/sink.ts';
import { loadKeyFile } from '../kernel/key-file.ts';
import { Registry } from '../kernel/metrics.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { uplinkSchema, type UplinkConfigInput } from '../runtime/uplink/config.ts';
import { MAX_ANSWER_BYTES } from '../runtime/uplink/sink-client.ts';
import { PIN_FILE } from '../runtime/uplink/sink-trust.ts';
import { Uplink } from '../runtime/uplink/uplink.ts';
import { tempDir } from './support/sink.ts';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function readings(n: number, from = 0): ReadingInput[] {
  return Array.from({ length: n }, (_, i) => ({ sensor: 's-1', metric: 'temperature_c', unit: 'degC', ts: 1763884800000 + (i + from) * 1000, value: 20 + ((i + from) % 7) }));
}

async function journalWith(dir: string, key: DeviceKey, n: number): Promise<Journal> {
  const j = await Journal.open({ dir, device: 'dev-1', key, batch: { maxRecords: 50, maxBytes: 1e6, maxAgeMs: 3_600_000 }, commitMaxWaitMs: 1 });
  cleanups.push(() => j.close());
  await j.appendMany(readings(n));
  await j.sealNow();
  return j;
}

async function startSink(dataDir: string, key: DeviceKey, extra: Partial<SinkConfigInput> = {}): Promise<Sink> {
  const s = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir, devices: [{ id: 'dev-1', key: key.public }], ...extra }));
  await s.start();
  cleanups.push(() => s.stop());
  return s;
}

interface LogLine { level: number; msg: string; [k: string]: unknown }

function uplink(journal: Journal, dataDir: string, config: UplinkConfigInput, metrics = new Registry(), lines: LogLine[] = []): Uplink {
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  const u = new Uplink({ journal, device: 'dev-1', dataDir, log, metrics, config: uplinkSchema.parse({ backoffInitialMs: 50, backoffMaxMs: 200, ...config }) });
  cleanups.push(() => u.stop());
  return u;
}

async function refusals(metrics: Registry): Promise<Record<string, number>> {
  const values = (await metrics.getSingleMetric('fieldproof_uplink_receipts_refused_total')!.get()).values;
  return Object.fromEntries(values.map((v) => [String(v.labels.reason), v.value]));
}

interface ProxyOptions {
  /** answers a request itself instead of passing it on (undefined: pass it on) */
  answer?: (method: string, url: string) => { status: number; headers: Record<string, string>; body: unknown } | undefined;
  /** changes the sink's answer before the device sees it */
  rewrite?: (body: Record<string, unknown>) => void;
}

/** A real HTTP proxy to `target` that passes requests on, unless told to answer or rewrite. */
async function proxy(target: string, opts: ProxyOptions): Promise<string> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const own = opts.answer?.(req.method ?? 'GET', req.url ?? '/');
      if (own) {
        res.writeHead(own.status, { 'content-type': 'application/json', ...own.headers }).end(JSON.stringify(own.body));
        return;
      }
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'content-encoding']) if (req.headers[h]) headers[h] = String(req.headers[h]);
      const up = await request(target + req.url, { method: req.method as 'GET' | 'POST', headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
      const body = (await up.body.json()) as Record<string, unknown>;
      opts.rewrite?.(body);
      res.writeHead(up.statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** The proxy that rewrites the receipt of every answer that has one. */
function forgingProxy(target: string, forge: (r: Receipt) => Receipt | undefined): Promise<string> {
  return proxy(target, {
    rewrite: (body) => {
      if (!body.receipt) return;
      const forged = forge(body.receipt as Receipt);
      if (forged) body.receipt = forged;
      else delete body.receipt;
    },
  });
}

describe('receipts', () => {
  it('a receipt from the configured sink key deletes; the sink signs its head as well', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const key = generateKey();
    const j = await journalWith(join(tmp.dir, 'dev'), key, 200);
    const sink = await startSink(join(tmp.dir, 'sink'), key);
    const metrics = new Registry();
    const up = uplink(j, join(tmp.dir, 'dev'), { url: sink.url, sinkKey: sink.receiptKey! }, metrics);
    await up.start();
    assert.ok(await up.drained(20_000));
    await up.stop();
    assert.equal(j.stats().ackedBatch, 4);
    assert.deepEqual(await refusals(metrics), {});
    assert.equal(existsSync(join(tmp.dir, 'dev', PIN_FILE)), false, 'a configured key is not pinned');
  });

  const forgeries: { name: string; reason: string; forge: (r: Receipt, sinkKey: DeviceKey) => Receipt | undefined }[] = [
    { name: 'no receipt', reason: 'no_receipt', forge: () => undefined },
    { name: 'another key, validly signed', reason: 'sink_key_changed', forge: (r) => signReceipt(generateKey(), r, r.accepted) },
    { name: 'the sink key over another header hash', reason: 'receipt_mismatch', forge: (r, k) => signReceipt(k, { ...r, header: 'ee'.repeat(32) }, r.accepted) },
    { name: 'a bad signature', reason: 'bad_receipt_signature', forge: (r) => ({ ...r, sig: (r.sig[0] === '0' ? '1' : '0') + r.sig.slice(1) }) },
    { name: 'a malformed receipt', reason: 'bad_receipt', forge: (r) => ({ ...r, batch: String(r.batch) }) as unknown as Receipt },
  ];
  for (const f of forgeries) {
    it(`a 200 with ${f.name} deletes nothing, is counted and retried; the real receipts then delete`, async () => {
      const tmp = tempDir();
      cleanups.push(tmp.cleanup);
      const key = generateKey();
      const j = await journalWith(join(tmp.dir, 'dev'), key, 200);
      const sink = await startSink(join(tmp.dir, 'sink'), key);
      const sinkKey = loadKeyFile(join(tmp.dir, 'sink', 'sink.key'))!;
      const proxy = await forgingProxy(sink.url, (r) => f.forge(r, sinkKey));
      const metrics = new Registry();
      const lines: LogLine[] = [];
      const forged = uplink(j, join(tmp.dir, 'dev'), { url: proxy, sinkKey: sinkKey.public }, metrics, lines);
      await forged.start();
      const until = Date.now() + 10_000;
      while ((await refusals(metrics))[f.reason] === undefined || (await refusals(metrics))[f.reason]! < 3) {
        assert.ok(Date.now() < until, `no ${f.reason} counted: ${JSON.stringify(await refusals(metrics))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await forged.stop();
      assert.equal(j.stats().ackedBatch, 0, 'nothing deleted');
      assert.equal(j.stats().lastBatch, 4);
      assert.deepEqual(Object.keys(await refusals(metrics)), [f.reason]);
      const logged = lines.find((l) => l.reason === f.reason);
      assert.ok(logged && logged.level >= 40, 'a warning or error names the reason');
      assert.match(logged.msg, /not an acknowledgement|another sink key/);

      const up = uplink(j, join(tmp.dir, 'dev'), { url: sink.url, sinkKey: sinkKey.public });
      await up.start();
      assert.ok(await up.drained(20_000));
      await up.stop();
      assert.equal(j.stats().ackedBatch, 4, 'the sink held them all along: its head receipt acknowledges them');
    });
  }

  it('pins the first sink key durably, logs it once, and refuses a sink with another key after a restart', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const key = generateKey();
    const devDir = join(tmp.dir, 'dev');
    const j = await journalWith(devDir, key, 100);
    const sinkDir = join(tmp.dir, 'sink');
    const first = await startSink(sinkDir, key);
    const lines: LogLine[] = [];
    const up = uplink(j, devDir, { url: first.url }, new Registry(), lines);
    await up.start();
    assert.ok(await up.drained(20_000));
    await up.stop();
    assert.equal(j.stats().ackedBatch, 2);
    const pinned = JSON.parse(readFileSync(join(devDir, PIN_FILE), 'utf8')) as { key: string };
    assert.equal(pinned.key, first.receiptKey);
    const pinLines = lines.filter((l) => /pinned the sink key on first use/.test(l.msg));
    assert.equal(pinLines.length, 1);
    assert.equal(pinLines[0]!.sinkKey, first.receiptKey);
    await first.stop();

    // The same store behind another key: a swapped sink.
    const other = join(tmp.dir, 'other.key');
    const swapped = await startSink(sinkDir, key, { key: other });
    assert.notEqual(swapped.receiptKey, first.receiptKey);
    await j.appendMany(readings(100, 100));
    await j.sealNow();
    const metrics = new Registry();
    const after = uplink(j, devDir, { url: swapped.url }, metrics, lines);
    await after.start();
    const until = Date.now() + 10_000;
    while (!(await refusals(metrics)).sink_key_changed) {
      assert.ok(Date.now() < until, 'the swapped key is refused');
      await new Promise((r) => setTimeout(r, 50));
    }
    await after.stop();
    assert.equal(j.stats().ackedBatch, 2, 'nothing after the swap is deleted');
    const alert = lines.find((l) => l.reason === 'sink_key_changed');
    assert.equal(alert?.level, 50, 'an error: worth an alert');
    assert.match(String(alert?.err), new RegExp(String(swapped.receiptKey)));
    assert.equal(JSON.parse(readFileSync(join(devDir, PIN_FILE), 'utf8')).key, first.receiptKey, 'the pin is kept');
  });

  it('uplink.url must be https:// beyond loopback, unless insecure: true', () => {
    const problem = (c: UplinkConfigInput) => {
      const r = uplinkSchema.safeParse(c);
      return r.success ? null : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    };
    assert.match(problem({ url: 'http://sink.example.org:8787' })!, /^url: sink\.example\.org:8787 is beyond this machine: use https:\/\//);
    assert.match(problem({ url: 'http://10.0.0.5:8787' })!, /beyond this machine/);
    assert.match(problem({ url: 'ftp://127.0.0.1' })!, /must be https/);
    for (const url of ['https://sink.example.org', 'http://127.0.0.1:8787', 'http://localhost:8787', 'http://[::1]:8787', 'http://127.3.2.1']) assert.equal(problem({ url }), null, url);
    assert.equal(problem({ url: 'http://sink.example.org', insecure: true }), null);
    assert.match(problem({ url: 'https://x.org', sinkKey: 'abc' })!, /sinkKey/);
  });

  it('insecure: true is warned about at every start', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const j = await journalWith(join(tmp.dir, 'dev'), generateKey(), 10);
    const lines: LogLine[] = [];
    for (let i = 0; i < 2; i++) {
      const up = uplink(j, join(tmp.dir, 'dev'), { url: 'http://127.0.0.1:9', insecure: true }, new Registry(), lines);
      await up.start();
      await up.stop();
    }
    assert.equal(lines.filter((l) => l.level === 40 && /uplink\.insecure: true/.test(l.msg)).length, 2);
  });

  it('the daemon refuses an http:// uplink beyond loopback at start, in one line, exit 2', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const { runCli } = await import('./support/cli.ts');
    const config = join(tmp.dir, 'device.yaml');
    writeFileSync(config, `device: dev-1\ndataDir: ${join(tmp.dir, 'data')}\ndrivers: []\nuplink:\n  url: http://sink.example.org:8787\n`);
    const r = await runCli(['run', '--config', config], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /uplink\.url.*https:\/\//);
  });
});

describe('a sink that answers without end', () => {
  it('is read to MAX_ANSWER_BYTES at most: counted, nothing deleted, asked again later', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const key = generateKey();
    const j = await journalWith(join(tmp.dir, 'dev'), key, 100);
    // Whatever answers at the sink's address: a 200 whose body never ends.
    const sent: number[] = [];
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      let bytes = 0;
      const more = () => {
        while (!res.destroyed && res.write(chunk)) bytes += chunk.length;
      };
      res.on('drain', more);
      res.on('close', () => sent.push(bytes));
      more();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
    const metrics = new Registry();
    const up = uplink(j, join(tmp.dir, 'dev'), { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, sinkKey: generateKey().public }, metrics);
    await up.start();
    const errors = async () => (await metrics.getSingleMetric('fieldproof_uplink_errors_total')!.get()).values.find((v) => v.labels.reason === 'answer_too_large')?.value ?? 0;
    for (const until = Date.now() + 10_000; (await errors()) < 2;) {
      assert.ok(Date.now() < until, 'no answer_too_large counted');
      await new Promise((r) => setTimeout(r, 50));
    }
    await up.stop();
    assert.ok(sent.length >= 2 && sent.every((b) => b < MAX_ANSWER_BYTES + 8 * 1024 * 1024), `bytes sent before the device hung up: ${sent.join(', ')}`);
    assert.equal(j.stats().ackedBatch, 0, 'nothing deleted');
  });
});

describe('a busy sink', () => {
  it('is left alone for as long as its Retry-After says, then the backlog drains', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const key = generateKey();
    const j = await journalWith(join(tmp.dir, 'dev'), key, 100);
    const sink = await startSink(join(tmp.dir, 'sink'), key);
    const posts: number[] = [];
    const url = await proxy(sink.url, {
      answer: (method, path) => {
        if (method !== 'POST' || !path.startsWith('/v1/batches')) return undefined;
        posts.push(Date.now());
        return posts.length === 1 ? { status: 429, headers: { 'retry-after': '2' }, body: { error: 'too many requests', code: 'too_many_requests' } } : undefined;
      },
    });
    // backoffMaxMs 200: without the Retry-After the next try would come within 0.2 s
    const up = uplink(j, join(tmp.dir, 'dev'), { url, sinkKey: sink.receiptKey!, inFlight: 1 });
    await up.start();
    assert.ok(await up.drained(20_000));
    await up.stop();
    assert.equal(j.stats().ackedBatch, 2);
    assert.ok(posts.length >= 2);
    assert.ok(posts[1]! - posts[0]! >= 1900, `the second try came ${posts[1]! - posts[0]!} ms after the 429 with Retry-After: 2`);
  });
});
