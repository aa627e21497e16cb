// The sink's pages in a real browser (headless Chromium) against a real sink that anchors through
// the Aptos simulator over HTTP: the fleet page loads and follows a new batch live; the device page
// shows what the sink holds, a chart with a gap and the MRV report with its CSV; the proof page
// checks a real proof in the browser and holds it at the right device key, refuses it at a wrong
// one, and refuses each forged proof with the exact reason `fieldproof verify` gives, without a
// request to the sink; and holds it at the operator's account alone, asking the Aptos node (the
// simulator, through its CORS) directly, refusing another account and every forgery only the
// chain can tell, with the CLI's reasons. Screenshots are left in test-artifacts/.
import { strict as assert } from 'node:assert';
import { stat } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RecordProof } from '../protocol/proof.ts';
import { signBatch, headerHash, type Batch } from '../protocol/batch.ts';
import { ZERO_HASH } from '../protocol/hash.ts';
import { readingRecord, type ReadingRecord } from '../protocol/records.ts';
import { generateKey, type DeviceKey } from '../protocol/signature.ts';
import { ChainFixture, chainOf, type Operator } from '../cloud-sink/anchor/chain-testing.ts';
import { sinkConfig } from '../cloud-sink/config.ts';
import { Sink } from '../cloud-sink/sink.ts';
import { CHROMIUM, launchChromium, NO_CHROMIUM, screenshot, watchedPage } from './support/chromium.ts';
import { chainForgeries, offlineForgeries } from './support/forgeries.ts';
import { getJson, makeChain, postRaw, tempDir } from './support/sink.ts';

// The functions handed to the page run in the browser, where `document` exists.
declare const document: { querySelector(s: string): { textContent: string | null; getAttribute(a: string): string | null } | null; querySelectorAll(s: string): { length: number } };
declare class DataTransfer {
  items: { add(file: File): void };
}

const post = (url: string, batch: Batch, backlog?: number) =>
  postRaw(url, JSON.stringify(batch), { 'content-type': 'application/json', ...(backlog === undefined ? {} : { 'x-fieldproof-backlog': String(backlog) }) });

/** Readings of one sensor a minute apart over [from, to), as batches of `perBatch` continuing `chain`. */
function minuteReadings(device: string, key: DeviceKey, chain: Batch[], from: number, to: number, perBatch = 20): Batch[] {
  let seq = chain.at(-1)?.header.last ?? 0;
  let prev = chain.length ? headerHash(chain.at(-1)!.header) : ZERO_HASH;
  let records: ReadingRecord[] = [];
  const out: Batch[] = [];
  const seal = () => {
    const b = signBatch(device, key, chain.length + out.length + 1, records, prev, records.at(-1)!.ts);
    prev = headerHash(b.header);
    out.push(b);
    records = [];
  };
  for (let ts = from; ts < to; ts += 60_000) {
    records.push(readingRecord(device, ++seq, { sensor: 'g-1', metric: 'temp_c', unit: 'degC', ts, value: 20 + Math.sin(ts / 3.6e6) * 3 }, { score: 1, flags: [] }));
    if (records.length === perBatch) seal();
  }
  if (records.length) seal();
  return out;
}

describe('the sink\'s pages in headless Chromium', { skip: CHROMIUM ? false : NO_CHROMIUM }, () => {
  const tmp = tempDir('fieldproof-sink-pages-');
  const fx = new ChainFixture();
  const keys = { a: generateKey(), b: generateKey(), g: generateKey(), quiet: generateKey() };
  let sink: Sink;
  let browser: Browser;
  let chainA: Batch[];
  const op = fx.operator();
  let attacker: Operator;

  before(async () => {
    await fx.start();
    attacker = fx.operator(true);
    sink = new Sink(sinkConfig({
      listen: '127.0.0.1:0', dataDir: join(tmp.dir, 'sink'), limits: { chainWaitMs: 0 },
      devices: [{ id: 'site-a', key: keys.a.public }, { id: 'site-b', key: keys.b.public }, { id: 'site-g', key: keys.g.public }, { id: 'site-quiet', key: keys.quiet.public }],
      anchor: { mode: 'aptos', intervalMs: 3_600_000, aptos: { node: fx.url, module: op.module, waitSecs: 5 } },
    }), { chain: chainOf(fx, op) });
    await sink.start();
    chainA = makeChain('site-a', keys.a, 4, 6);
    for (const b of chainA.slice(0, 3)) assert.equal((await post(sink.url, b, 40)).status, 200);
    // site-b: a batch signed by another key under its name, refused.
    assert.equal((await post(sink.url, makeChain('site-b', keys.a, 1, 3)[0]!)).status, 403);
    // site-g: a sensor read every minute for the last two hours, but for a silence of 50 minutes.
    const now = Date.now();
    const start = Math.floor((now - 2 * 3_600_000) / 60_000) * 60_000;
    const early = minuteReadings('site-g', keys.g, [], start, start + 40 * 60_000);
    const late = minuteReadings('site-g', keys.g, early, start + 90 * 60_000, now);
    for (const b of [...early, ...late]) assert.equal((await post(sink.url, b, 0)).status, 200);
    assert.equal(await sink.anchorNow(), 1);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await sink?.stop();
    await fx.stop();
    tmp.cleanup();
  });

  it('fleet: loads with the devices that need a look first, and shows a new batch without a reload', async () => {
    const problems: string[] = [];
    const { page } = await watchedPage(browser, { width: 1280, height: 1000 }, problems);
    await page.goto(`${sink.url}/`);
    await page.waitForFunction(() => document.querySelector('#live')?.textContent === 'live', null, { timeout: 10_000 });
    await page.waitForSelector('#fleet tr[data-device="site-a"]', { timeout: 10_000 });
    const order = await page.$$eval('#fleet tbody tr', (rows) => rows.map((r) => r.getAttribute('data-device')));
    assert.deepEqual(order, ['site-b', 'site-quiet', 'site-a', 'site-g'], 'refused first, then silent, then the rest');
    assert.match((await page.textContent('#fleet tr[data-device="site-b"] .refusals')) ?? '', /wrong_key 1/);
    assert.equal(await page.textContent('#fleet tr[data-device="site-a"] .batch'), '3');
    assert.equal(await page.textContent('#fleet tr[data-device="site-a"] .backlog'), '40');

    assert.equal((await post(sink.url, chainA[3]!, 12)).status, 200);
    await page.waitForFunction(() => document.querySelector('#fleet tr[data-device="site-a"] .batch')?.textContent === '4', null, { timeout: 10_000 });
    assert.equal(await page.textContent('#fleet tr[data-device="site-a"] .backlog'), '12');
    assert.ok((await stat(await screenshot(page, 'sink-fleet.png'))).size > 10_000);
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('device: what the sink holds of it, and the MRV report for a period with its CSV', async () => {
    const problems: string[] = [];
    const { page } = await watchedPage(browser, { width: 1280, height: 1000 }, problems);
    await page.goto(`${sink.url}/devices/site-g`);
    assert.equal(await page.textContent('#device'), 'site-g');
    await page.waitForFunction(() => (document.querySelector('#facts')?.textContent ?? '').includes('last batch'), null, { timeout: 10_000 });
    assert.match((await page.textContent('#facts')) ?? '', /last anchor#1 committed/);
    await page.click('#report-go');
    await page.waitForSelector('#report dt', { timeout: 15_000 });
    assert.match((await page.textContent('#report')) ?? '', /credited/);
    const csv = await page.getAttribute('#report-csv', 'href');
    assert.match(csv ?? '', /^\/v1\/reports\/site-g\?from=\d+&to=\d+&format=csv$/);
    const res = await page.evaluate(async (href) => {
      const r = await fetch(href!);
      return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
    }, csv);
    assert.equal(res.status, 200);
    assert.match(res.type ?? '', /^text\/csv/);
    await page.waitForSelector('#sensors[data-state]', { state: 'attached', timeout: 10_000 });
    assert.ok((await stat(await screenshot(page, 'sink-device.png'))).size > 10_000);
    assert.notEqual(await page.getAttribute('#sensors', 'data-state'), 'no-api');
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('device: a chart over the chosen range draws a missing stretch as a gap', async () => {
    const probe = await getJson(`${sink.url}/v1/readings/latest?device=site-g`);
    assert.equal(probe.status, 200, 'the readings API answers');
    const { page } = await watchedPage(browser, { width: 1280, height: 1000 }, []);
    await page.goto(`${sink.url}/devices/site-g`);
    await page.selectOption('#range', String(6 * 3_600_000));
    await page.waitForSelector('#charts .chart[data-sensor="g-1"][data-gaps] canvas', { timeout: 15_000 });
    assert.ok(Number(await page.getAttribute('#charts .chart[data-sensor="g-1"]', 'data-gaps')) >= 1, 'the 50 silent minutes are a gap');
    await screenshot(page, 'sink-device-chart.png');
    await page.close();
  });

  /** Check what the page has in its form; the verdict's class and text, and the steps shown. */
  async function verdictOf(page: Page, act: () => Promise<void>): Promise<{ kind: string; text: string; steps: { step: string; ok: boolean; detail: string }[] }> {
    const before = await page.getAttribute('#steps', 'data-done');
    await act();
    await page.waitForFunction((b) => document.querySelector('#steps')?.getAttribute('data-done') !== b, before, { timeout: 10_000 });
    return {
      kind: (await page.getAttribute('#verdict', 'class')) ?? '',
      text: (await page.textContent('#verdict')) ?? '',
      steps: await page.$$eval('#steps li.pass, #steps li.fail', (lis) => lis.map((li) => ({
        step: li.getAttribute('data-step') ?? '', ok: li.className === 'pass', detail: li.querySelector('.detail')?.textContent ?? '',
      }))),
    };
  }

  it('proof: a real proof from the sink holds in the browser at the right device key, and not at a wrong one', async () => {
    const problems: string[] = [];
    const { page } = await watchedPage(browser, { width: 1280, height: 1000 }, problems);
    await page.goto(`${sink.url}/proof`);
    await page.fill('#device', 'site-a');
    await page.fill('#seq', '9');
    await page.fill('#device-key', keys.a.public.toUpperCase());
    const holds = await verdictOf(page, () => page.click('#fetch-form button'));
    assert.equal(holds.kind, 'trusted', holds.text);
    assert.deepEqual(holds.steps.map((s) => [s.step, s.ok]), [['batch signature', true], ['given key', true], ['record in batch', true], ['record asked', true], ['batch in anchor', true]]);
    assert.match(holds.text, /^holds: it ends at the device key you gave, and its batch is in an anchor/);
    assert.match((await page.textContent('#steps li.unchecked[data-step="on chain"]')) ?? '', /^not checked: on chainthat transaction 0x[0-9a-f]{64} on aptos:\S+ recorded root [0-9a-f]{64}, sent by the operator's account: type the operator's account/);
    assert.ok((await stat(await screenshot(page, 'sink-proof-holds.png'))).size > 10_000);

    await page.fill('#device-key', keys.b.public);
    const wrong = await verdictOf(page, () => page.click('#fetch-form button'));
    assert.equal(wrong.kind, 'refused');
    assert.equal(wrong.text, `refused at "given key": the batch was signed by ${keys.a.public}, not by the device key given (${keys.b.public})`);

    await page.fill('#device-key', '');
    const noRoot = await verdictOf(page, () => page.click('#fetch-form button'));
    assert.equal(noRoot.kind, 'consistent');
    assert.deepEqual(problems, []);
    // a record is (epoch, seq): the page asks for the epoch given, and this device has no epoch 2
    await page.fill('#epoch', '2');
    const otherEpoch = await verdictOf(page, () => page.click('#fetch-form button'));
    assert.equal(otherEpoch.kind, 'refused');
    assert.equal(otherEpoch.text, 'the sink has no proof: the sink holds no seq 9 of epoch 2 of site-a');
    assert.deepEqual(problems, ['console: Failed to load resource: the server responded with a status of 404 (Not Found)'], 'the 404 the page asked for, and nothing else');
    await page.close();
  });

  it('proof: a lying sink that answers the honest proof of another record is refused, not taken for the record asked', async () => {
    // The sink as the page reaches it, but for one answer: asked for seq 9, it hands over seq 8's proof.
    const liar = createServer((req, res) => {
      const path = req.url === '/v1/proofs/site-a/9' ? '/v1/proofs/site-a/8' : req.url!;
      const upstream = httpRequest(`${sink.url}${path}`, { method: req.method, headers: { ...req.headers, host: new URL(sink.url).host } }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
    try {
      const problems: string[] = [];
      const { page } = await watchedPage(browser, { width: 1280, height: 1000 }, problems);
      await page.goto(`http://127.0.0.1:${(liar.address() as AddressInfo).port}/proof`);
      await page.fill('#device', 'site-a');
      await page.fill('#seq', '9');
      await page.fill('#device-key', keys.a.public);
      const v = await verdictOf(page, () => page.click('#fetch-form button'));
      assert.equal(v.kind, 'refused');
      assert.equal(v.text, 'refused at "record asked": the proof is of seq 8 of epoch 1 of site-a, not of seq 9 of epoch 1 of site-a as asked');
      assert.deepEqual(v.steps.map((s) => [s.step, s.ok]), [['batch signature', true], ['given key', true], ['record in batch', true], ['record asked', false]]);
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      liar.closeAllConnections();
      await new Promise((resolve) => liar.close(resolve));
    }
  });

  it('proof: each forged proof, dropped in as a file, is refused in the browser with the exact reason, and nothing is asked of the sink', async () => {
    const problems: string[] = [];
    const { page } = await watchedPage(browser, { width: 1280, height: 1000 }, problems);
    await page.goto(`${sink.url}/proof`);
    await page.waitForLoadState('networkidle');
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const forgeries = offlineForgeries(keys.a, keys.b);
    for (const [i, f] of forgeries.entries()) {
      await page.fill('#device-key', f.key);
      const v = await verdictOf(page, () => page.setInputFiles('#file', { name: `forged-${i}.json`, mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(f.proof)) }));
      assert.equal(v.kind, 'refused', `${f.name}: ${v.text}`);
      assert.deepEqual(v.steps.at(-1), { step: f.step, ok: false, detail: f.detail }, f.name);
      assert.equal(v.text, `refused at "${f.step}": ${f.detail}`);
      if (i === 0) await screenshot(page, 'sink-proof-forged.png');
    }
    // Dropped rather than chosen: the real proof, saved from the sink, holds at the right key.
    const saved = JSON.stringify((await getJson(`${sink.url}/v1/proofs/site-a/3`)).body);
    await page.fill('#device-key', keys.a.public);
    const dropped = await verdictOf(page, async () => {
      const transfer = await page.evaluateHandle((text) => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], 'proof.json', { type: 'application/json' }));
        return dt;
      }, saved);
      await page.dispatchEvent('#drop', 'drop', { dataTransfer: transfer });
    });
    assert.equal(dropped.kind, 'trusted', dropped.text);
    assert.equal(await page.textContent('#source'), 'proof from the file proof.json');
    assert.deepEqual(requests, [], 'the check ran in the browser: no request left the page');
    assert.deepEqual(problems, []);
    await page.close();
  });

  /** The proof page opened for the simulator as its node, the way an auditor does it: typed, then "use this node". */
  async function pageForNode(problems: string[], account: string): Promise<Page> {
    const { page } = await watchedPage(browser, { width: 1280, height: 1000 }, problems);
    await page.goto(`${sink.url}/proof`);
    await page.fill('#aptos-node', fx.url);
    await page.fill('#anchor-account', account);
    await page.fill('#device', 'site-a');
    await page.fill('#seq', '9');
    await Promise.all([page.waitForURL(/\/proof\?node=/), page.click('#use-node')]);
    assert.equal(await page.inputValue('#aptos-node'), fx.url, 'what the auditor typed survives the reload');
    assert.equal(await page.inputValue('#anchor-account'), account);
    assert.equal(await page.textContent('#node-state'), `this page may ask the node at ${new URL(fx.url).origin}, and no other`);
    return page;
  }

  /** Page problems but the 404 a node answers for a transaction it does not hold, which Chromium logs. */
  const realProblems = (problems: string[]) => problems.filter((p) => !/status of 404/.test(p));

  it('proof: a real proof holds at the operator\'s account alone, asked of the node from the browser; another account is refused', async () => {
    const problems: string[] = [];
    const page = await pageForNode(problems, op.address);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const holds = await verdictOf(page, () => page.click('#fetch-form button'));
    assert.equal(holds.kind, 'trusted', holds.text);
    assert.deepEqual(holds.steps.map((s) => [s.step, s.ok]), [
      ['batch signature', true], ['record in batch', true], ['record asked', true], ['batch in anchor', true],
      ['anchor transaction', true], ['anchor sender', true], ['anchor call', true], ['anchor view', true], ['device key', true],
    ]);
    assert.equal(holds.text, `holds: it ends at the operator's account ${op.address}, anchored on chain by that account`);
    assert.match(holds.steps.at(-1)!.detail, new RegExp(`^key ${keys.a.public} of device site-a, registered by ${op.address} `));
    assert.ok(requests.some((u) => u.startsWith(`${fx.url}/transactions/by_hash/0x`)), 'the transaction was asked of the node itself');
    assert.ok(requests.some((u) => u === `${fx.url}/view`), 'and the views');
    assert.deepEqual(requests.filter((u) => !u.startsWith(fx.url)), [`${sink.url}/v1/proofs/site-a/9`], 'the sink handed over the proof, nothing else');
    assert.ok((await stat(await screenshot(page, 'sink-proof-operator-holds.png'))).size > 10_000);

    await page.fill('#anchor-account', attacker.address);
    const other = await verdictOf(page, () => page.click('#fetch-form button'));
    assert.equal(other.kind, 'refused');
    assert.equal(other.text, `refused at "anchor sender": the anchor transaction was sent by ${op.address}, not by the operator ${attacker.address}`);
    await screenshot(page, 'sink-proof-operator-other-account.png');

    // A node typed but not opened for: the page cannot reach it, and says how.
    await page.fill('#anchor-account', op.address);
    await page.fill('#aptos-node', 'http://127.0.0.1:9/v1');
    const closed = await verdictOf(page, () => page.click('#fetch-form button'));
    assert.equal(closed.text, 'this page may ask no node but the one it was opened for: press "use this node" to open it for http://127.0.0.1:9');
    assert.deepEqual(realProblems(problems), []);
    await page.close();
  });

  it('proof: each forgery only the chain can tell, dropped in as a file, is refused in the browser with the CLI\'s reason', async () => {
    const problems: string[] = [];
    const page = await pageForNode(problems, op.address);
    const honest = (await getJson(`${sink.url}/v1/proofs/site-a/9`)).body as unknown as RecordProof;
    const forgeries = await chainForgeries(fx, op, attacker, honest, keys.a, fx.url);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    for (const [i, f] of forgeries.entries()) {
      await page.fill('#anchor-account', f.account);
      const v = await verdictOf(page, () => page.setInputFiles('#file', { name: `chain-forged-${i}.json`, mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(f.proof)) }));
      assert.equal(v.kind, 'refused', `${f.name}: ${v.text}`);
      assert.deepEqual(v.steps.at(-1), { step: f.step, ok: false, detail: f.detail }, f.name);
      assert.equal(v.text, `refused at "${f.step}": ${f.detail}`);
      if (f.step === 'anchor call' && i < 5) await screenshot(page, 'sink-proof-operator-module-swapped.png');
    }
    assert.deepEqual(requests.filter((u) => !u.startsWith(fx.url)), [], 'only the node was asked');
    assert.deepEqual(realProblems(problems), []);
    await page.close();
  });
});
