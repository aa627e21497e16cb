// GET /v1/fleet and its live feed against a real sink over real HTTP: the reported backlog,
// refusals by reason, equivocations, the last anchor, the order that puts trouble first, and the
// Server-Sent Events that follow a new batch; on LevelDB, and on PostgreSQL with FIELDPROOF_TEST_PG.
// And the pages' access rule.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { request } from 'undici';
import { signBatch, type BatchHeader } from '../../protocol/batch.ts';
import { restartRecord } from '../../protocol/restart.ts';
import { generateKey } from '../../protocol/signature.ts';
import { makeChain, getJson, postRaw, tempDir } from '../../test/support/sink.ts';
import { sinkConfig } from '../config.ts';
import { PageAccess } from '../http/page-access.ts';
import { Sink } from '../sink.ts';
import { clockOf, reportedBacklog } from './device-reports.ts';
import type { FleetSnapshot } from './fleet-view.ts';

const post = (url: string, batch: unknown, backlog?: string) =>
  postRaw(url, JSON.stringify(batch), { 'content-type': 'application/json', ...(backlog === undefined ? {} : { 'x-fieldproof-backlog': backlog }) });

const PG = process.env.FIELDPROOF_TEST_PG;

for (const kind of ['level', 'postgres'] as const) describe(`the fleet view (${kind})`, { skip: kind === 'postgres' && !PG ? 'FIELDPROOF_TEST_PG is not set: no PostgreSQL to test against' : false }, () => {
  const tmp = tempDir('fieldproof-fleet-');
  const schema = `fp_fleet_${process.pid}_${Date.now().toString(36)}`;
  const keys = { quiet: generateKey(), busy: generateKey(), liar: generateKey(), never: generateKey() };
  let sink: Sink;

  before(async () => {
    sink = new Sink(sinkConfig({
      listen: '127.0.0.1:0', dataDir: join(tmp.dir, 'sink'), limits: { chainWaitMs: 0 },
      devices: Object.entries(keys).map(([id, k]) => ({ id, key: k.public })),
      pages: { backlogWarnRecords: 1000 },
      ...(kind === 'postgres' ? { store: { kind: 'postgres' as const, url: PG!, schema, poolSize: 4 } } : {}),
    }));
    await sink.start();
  });
  after(async () => {
    await sink?.stop();
    tmp.cleanup();
    if (kind !== 'postgres') return;
    const c = new pg.Client({ connectionString: PG });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });

  const fleet = async () => {
    const res = await getJson(`${sink.url}/v1/fleet`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as unknown as FleetSnapshot;
  };

  it('shows each registered device, trouble first, with what it reported', async () => {
    const quiet = makeChain('quiet', keys.quiet, 2, 4);
    for (const b of quiet) assert.equal((await post(sink.url, b, '7')).status, 200);
    const busy = makeChain('busy', keys.busy, 1, 4);
    assert.equal((await post(sink.url, busy[0], '250000')).status, 200);
    // A refusal under a device's name (signed by someone else), and an equivocation.
    const liar = makeChain('liar', keys.liar, 1, 4);
    assert.equal((await post(sink.url, liar[0], 'not a number')).status, 200);
    assert.equal((await post(sink.url, makeChain('liar', keys.busy, 1, 4)[0])).status, 403);
    const other = signBatch('liar', keys.liar, 1, makeChain('liar', keys.liar, 1, 5)[0]!.records.slice(0, 4).map((r) => ({ ...r, value: 1 }) as typeof r), '0'.repeat(64), 1763884800001);
    assert.equal((await post(sink.url, other)).status, 409);

    const f = await fleet();
    assert.deepEqual(f.devices.map((d) => d.device), ['liar', 'never', 'busy', 'quiet']);
    const by = Object.fromEntries(f.devices.map((d) => [d.device, d]));
    assert.deepEqual(by.liar!.attention, ['equivocation', 'refused']);
    assert.equal(by.liar!.equivocations, 1);
    assert.deepEqual(by.liar!.refusals, { equivocation: 1, wrong_key: 1 });
    assert.equal(by.liar!.backlog, null, 'a malformed backlog header is ignored');
    assert.deepEqual(by.never!.attention, ['silent']);
    assert.equal(by.never!.lastBatchAt, null);
    assert.deepEqual(by.busy!.attention, ['behind']);
    assert.equal(by.busy!.backlog, 250000);
    assert.deepEqual({ batch: by.quiet!.lastBatch, backlog: by.quiet!.backlog, attention: by.quiet!.attention }, { batch: 2, backlog: 7, attention: [] });
    assert.deepEqual(by.quiet!.clock, { state: 'unknown' }, 'headers without a clock field say nothing of the clock');
    assert.equal(by.quiet!.lastAnchor, null);
    assert.ok(by.quiet!.lastBatchAt! > Date.now() - 60_000);
  });

  it('takes a reported backlog only with a batch it stores: a header sent again by anyone sets nothing', async () => {
    // Headers are public: the head route hands out the last one to anyone who asks.
    const head = await getJson(`${sink.url}/v1/devices/quiet/head`);
    const replay = { header: head.body.header, records: makeChain('quiet', keys.quiet, 2, 4)[1]!.records };
    for (const forged of ['0', '999999999']) {
      const res = await post(sink.url, replay, forged);
      assert.equal((res.body as { status?: string }).status, 'duplicate');
    }
    const quiet = (await fleet()).devices.find((d) => d.device === 'quiet')!;
    assert.deepEqual({ backlog: quiet.backlog, attention: quiet.attention }, { backlog: 7, attention: [] });
  });

  it('sends a new view to a live subscriber when a batch arrives', async () => {
    const res = await request(`${sink.url}/v1/fleet/events`);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    const events: FleetSnapshot[] = [];
    let buffered = '';
    const reading = (async () => {
      for await (const chunk of res.body) {
        buffered += chunk.toString();
        let end;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = /^event: fleet\ndata: (.*)$/s.exec(block)?.[1];
          if (data) events.push(JSON.parse(data) as FleetSnapshot);
        }
      }
    })().catch(() => {});
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 100 && !what(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(what());
    };
    await until(() => events.length >= 1);
    const busyOf = (s: FleetSnapshot) => s.devices.find((d) => d.device === 'busy')!;
    assert.equal(busyOf(events[0]!).lastBatch, 1);
    const next = makeChain('busy', keys.busy, 2, 4)[1]!;
    assert.equal((await post(sink.url, next, '12')).status, 200);
    await until(() => events.some((e) => busyOf(e).lastBatch === 2));
    const latest = events.at(-1)!;
    assert.deepEqual({ backlog: busyOf(latest).backlog, attention: busyOf(latest).attention }, { backlog: 12, attention: [] });
    res.body.destroy();
    await reading;
  });

  it('after a restart, shows what the store holds, and forgets what only passed by', async () => {
    const config = sink.config;
    await sink.stop();
    sink = new Sink(config);
    await sink.start();
    const by = Object.fromEntries((await fleet()).devices.map((d) => [d.device, d]));
    assert.deepEqual({ batch: by.quiet!.lastBatch, backlog: by.quiet!.backlog }, { batch: 2, backlog: null });
    assert.deepEqual({ equivocations: by.liar!.equivocations, refusals: by.liar!.refusals }, { equivocations: 1, refusals: {} });
    assert.equal(by.busy!.lastBatch, 2);
  });

  it('follows a device into its new recovery epoch, whose batch numbers start again', async () => {
    const head = (await getJson(`${sink.url}/v1/devices/quiet/head`)).body as { batch: number; hash: string };
    const restart = restartRecord('quiet', 2, 'journal_lost', { epoch: 1, batch: head.batch, hash: head.hash }, 0, 1763890000000);
    const first = signBatch('quiet', keys.quiet, 1, [restart], head.hash, 1763890000001, 2);
    assert.equal((await post(sink.url, first, '0')).body.code, 'restart_pending');
    assert.equal((await sink.store.acceptRestart('quiet', 2, Date.now())).status, 'accepted');
    assert.equal((await post(sink.url, first, '0')).status, 200);
    const shown = async () => (await fleet()).devices.find((d) => d.device === 'quiet')!;
    assert.deepEqual({ batch: (await shown()).lastBatch, created: (await shown()).lastCreated }, { batch: 1, created: 1763890000001 });
    const config = sink.config;
    await sink.stop();
    sink = new Sink(config);
    await sink.start();
    assert.deepEqual({ batch: (await shown()).lastBatch, created: (await shown()).lastCreated }, { batch: 1, created: 1763890000001 }, 'read from the store');
  });

  it('serves the pages and their files with a strict CSP, and nothing beside them', async () => {
    for (const path of ['/', '/devices/quiet', '/proof']) {
      const res = await request(`${sink.url}${path}`);
      assert.equal(res.statusCode, 200, path);
      assert.match(String(res.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
      assert.doesNotMatch(await res.body.text(), /<script>|\son[a-z]+="/, 'no inline script or handler');
    }
    assert.equal((await request(`${sink.url}/pages/vendor/uPlot.iife.min.js`)).statusCode, 200);
    for (const path of ['/pages/../config.ts', '/pages/pages-routes.ts', '/devices/..%2Fx', '/devices/a/b']) {
      const res = await request(`${sink.url}${path}`);
      assert.equal(res.statusCode, 404, path);
      await res.body.dump();
    }
  });
});

describe('the pages over HTTP, asked for under a name beyond loopback', () => {
  const tmp = tempDir('fieldproof-pages-token-');
  const token = 'pages-token-for-the-test-0123';
  let open: Sink;
  let guarded: Sink;
  // A Host that names no loopback host: what a browser elsewhere (or a rebinding page) sends.
  const get = (sink: Sink, path: string, headers: Record<string, string> = {}) => request(`${sink.url}${path}`, { headers: { host: 'sink.example.org', ...headers } });

  before(async () => {
    open = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: join(tmp.dir, 'open') }));
    guarded = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: join(tmp.dir, 'guarded'), pages: { token } }));
    await open.start();
    await guarded.start();
  });
  after(async () => {
    await open?.stop();
    await guarded?.stop();
    tmp.cleanup();
  });

  it('without pages.token: refused, saying how to open them', async () => {
    const res = await get(open, '/v1/fleet');
    assert.equal(res.statusCode, 403);
    assert.equal(((await res.body.json()) as { code: string }).code, 'pages_disabled');
  });

  it('with pages.token: the token once in the address, then the cookie; nothing without it', async () => {
    const none = await get(guarded, '/');
    assert.equal(none.statusCode, 401);
    await none.body.dump();
    const wrong = await get(guarded, '/?token=wrong-token-of-the-same-len');
    assert.equal(wrong.statusCode, 401);
    await wrong.body.dump();
    const login = await get(guarded, `/?token=${token}`);
    assert.equal(login.statusCode, 303);
    assert.equal(login.headers.location, '/');
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    await login.body.dump();
    for (const headers of [{ cookie }, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
      const res = await get(guarded, '/v1/fleet', headers);
      assert.equal(res.statusCode, 200);
      await res.body.dump();
    }
    const local = await request(`${guarded.url}/v1/fleet`);
    assert.equal(local.statusCode, 200, 'this machine needs no token');
    await local.body.dump();
  });
});

describe('the pages\' access rule', () => {
  const req = (remoteAddress: string, host: string, headers: Record<string, string> = {}) =>
    ({ socket: { remoteAddress }, headers: { host, ...headers } }) as unknown as IncomingMessage;
  const token = 'a-pages-token-of-some-length';

  it('lets this machine in without a token, and a page that rebinds its name to loopback not', () => {
    const open = new PageAccess(null);
    assert.deepEqual(open.check(req('127.0.0.1', '127.0.0.1:8787')), { ok: true });
    assert.deepEqual(open.check(req('::ffff:127.0.0.1', 'localhost:8787')), { ok: true });
    assert.deepEqual(open.check(req('::1', '[::1]:8787')), { ok: true });
    assert.equal(open.check(req('127.0.0.1', 'evil.example:8787')).ok, false);
  });

  it('beyond loopback: disabled without a token, and with one only for the right token', () => {
    const none = new PageAccess(null).check(req('10.1.2.3', 'sink.example'));
    assert.equal(!none.ok && none.code, 'pages_disabled');
    const access = new PageAccess(token);
    const wrong = access.check(req('10.1.2.3', 'sink.example', { authorization: 'Bearer nope' }));
    assert.equal(!wrong.ok && wrong.status, 401);
    assert.deepEqual(access.check(req('10.1.2.3', 'sink.example', { authorization: `Bearer ${token}` })), { ok: true });
    assert.deepEqual(access.check(req('10.1.2.3', 'sink.example', { cookie: `a=b; fieldproof_sink_pages=${token}` })), { ok: true });
    assert.equal(access.loginCookie(new URL('http://x/?token=nope')), null);
    assert.match(access.loginCookie(new URL(`http://x/?token=${token}`))!, /^fieldproof_sink_pages=.+; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
  });

  it('reads the clock from a header\'s optional clock field, and "unknown" from anything else', () => {
    const h = (clock: unknown) => ({ clock }) as unknown as BatchHeader;
    assert.deepEqual(clockOf(h({ synced: true, source: 'chrony', offsetMs: -3 })), { state: 'synced', source: 'chrony', offsetMs: -3 });
    assert.deepEqual(clockOf(h({ synced: false, source: 'timesyncd' })), { state: 'unsynced', source: 'timesyncd' });
    for (const bad of [undefined, null, 'synced', { synced: 1, source: 'chrony' }, { synced: true, source: 'ntpd' }]) assert.deepEqual(clockOf(h(bad)), { state: 'unknown' });
  });

  it('reads a reported backlog only as a bounded non-negative integer', () => {
    assert.equal(reportedBacklog('0'), 0);
    assert.equal(reportedBacklog('12345'), 12345);
    for (const bad of [undefined, '', '-1', '1.5', '1e3', '99999999999999', ['1', '2']]) assert.equal(reportedBacklog(bad), null, String(bad));
  });
});
