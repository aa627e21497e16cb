// The local HTTP server inside a real daemon (simulated sensors, a real journal on disk), spoken
// to over real HTTP and WebSocket.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { deviceConfigSchema, resolveDeviceConfig } from '../app/config/device-config.ts';
import { Daemon } from '../app/daemon.ts';
import { silentLogger } from '../kernel/log.ts';
import type { LiveMessage, StatusSnapshot } from '../runtime/http/dashboard-feed.ts';
import { MAX_CONNECTIONS, MAX_CONNECTIONS_PER_CLIENT } from '../runtime/http/server.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function startDaemon(http: Record<string, unknown>): Promise<{ daemon: Daemon; port: number; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'fieldproof-http-'));
  const raw = deviceConfigSchema.parse({
    device: 'test-gw',
    dataDir: dir,
    drivers: [{ kind: 'simulated', id: 'sim', sensors: 3, intervalMs: 50, seed: 7 }],
    batch: { maxRecords: 50, maxAgeMs: 500 },
    journal: { commitMaxWaitMs: 5 },
    http: { liveIntervalMs: 100, ...http },
  });
  const daemon = new Daemon(resolveDeviceConfig(raw, dir), silentLogger(), { progressMs: 60_000 });
  await daemon.start();
  const published = daemon.board.get('http') as { port: number; url: string } | undefined;
  assert.ok(published, 'the http component published its address on the board');
  assert.equal(published.url, `http://127.0.0.1:${published.port}/`);
  return { daemon, port: published.port, dir };
}

function openLive(port: number, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; messages: LiveMessage[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/live`, { headers });
    const messages: LiveMessage[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as LiveMessage));
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('local HTTP on loopback without a token', () => {
  let ctx: Awaited<ReturnType<typeof startDaemon>>;
  before(async () => {
    ctx = await startDaemon({ listen: '127.0.0.1:0' });
  });
  after(async () => {
    await ctx.daemon.stop();
    await rm(ctx.dir, { recursive: true, force: true });
  });

  it('serves the page, its script and uPlot from the installed package', async () => {
    const page = await get(ctx.port, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /<script src="\/vendor\/uPlot\.iife\.min\.js">/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    const uplot = await get(ctx.port, '/vendor/uPlot.iife.min.js');
    assert.equal(uplot.status, 200);
    assert.match(uplot.body, /uPlot/);
    const script = await get(ctx.port, '/dashboard.js');
    assert.equal(script.status, 200);
    assert.match(String(script.headers['content-type']), /javascript/);
  });

  it('reports sensors with their last values and quality in /api/status', async () => {
    let status: StatusSnapshot | undefined;
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      status = JSON.parse((await get(ctx.port, '/api/status')).body) as StatusSnapshot;
      if (status.sensors.length === 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(status);
    assert.equal(status.device, 'test-gw');
    assert.match(status.key, /^[0-9a-f]{64}$/);
    assert.deepEqual(status.sensors.map((s) => s.sensor), ['sim-1', 'sim-2', 'sim-3']);
    for (const s of status.sensors) {
      assert.equal(s.metric, 'co2_ppm');
      assert.equal(typeof s.quality.score, 'number');
      assert.ok(s.seq >= 1);
    }
    assert.equal(status.sources[0]!.id, 'sim');
    assert.ok(status.journal.lastSeq >= 3);
  });

  it('exposes the daemon registry on /metrics and answers /healthz', async () => {
    const metrics = await get(ctx.port, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^fieldproof_journal_records_total \d+/m);
    assert.match(metrics.body, /^process_resident_memory_bytes \d+/m);
    assert.match(metrics.body, /fieldproof_http_requests_total\{route="\/",code="200"\}/);
    const health = await get(ctx.port, '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
  });

  it('streams a snapshot, then rate-limited readings, statuses and board changes', async () => {
    const { ws, messages } = await openLive(ctx.port);
    try {
      await waitFor('snapshot', () => messages.find((m) => m.type === 'snapshot'));
      const firstReadings = await waitFor('readings', () => messages.find((m) => m.type === 'readings'));
      assert.equal(firstReadings.type, 'readings');
      if (firstReadings.type === 'readings') {
        // The simulated driver makes 3 readings every 50 ms; at a 100 ms live interval the page gets each sensor once.
        const names = firstReadings.readings.map((r) => r.sensor);
        assert.equal(new Set(names).size, names.length);
      }
      await waitFor('status', () => messages.find((m) => m.type === 'status'), 3000);
      ctx.daemon.board.set('alerts', [{ severity: 'warning', sensor: 'sim-2', message: 'co2 above 1000 ppm', since: Date.now() }]);
      const board = await waitFor('board message', () => messages.find((m) => m.type === 'board'));
      assert.deepEqual(board.type === 'board' ? board.key : null, 'alerts');
      const readingMessages = messages.filter((m) => m.type === 'readings');
      const perSensor = new Map<string, number>();
      for (const m of readingMessages) if (m.type === 'readings') for (const r of m.readings) perSensor.set(r.sensor, (perSensor.get(r.sensor) ?? 0) + 1);
      // No sensor was sent more often than once per live interval.
      for (const n of perSensor.values()) assert.ok(n <= readingMessages.length);
    } finally {
      ws.close();
    }
  });

  it('refuses a Host that is not loopback (DNS rebinding) and a foreign Origin on the live feed', async () => {
    const rebound = await get(ctx.port, '/api/status', { Host: 'attacker.example:8080' });
    assert.equal(rebound.status, 403);
    await assert.rejects(openLive(ctx.port, { Origin: 'http://attacker.example' }), /upgrade refused: 403/);
    const metrics = await get(ctx.port, '/metrics');
    assert.match(metrics.body, /fieldproof_http_rejected_total\{reason="bad_host"\} 1/);
    assert.match(metrics.body, /fieldproof_http_rejected_total\{reason="bad_origin"\} 1/);
  });

  it('answers unknown paths and methods with one-line errors', async () => {
    const missing = await get(ctx.port, '/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body, 'no such page: /nope\n');
    const post = await get(ctx.port, '/api/status', {}, 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  it('answers the history of a series in buckets, and bad history parameters with a one-line 400', async () => {
    const series = JSON.parse((await get(ctx.port, '/api/history/series')).body) as { bucketMs: number; hours: number; series: { sensor: string; metric: string }[] };
    assert.equal(series.bucketMs, 60_000);
    assert.equal(series.hours, 24);
    const s = series.series.find((x) => x.sensor === 'sim-1')!;
    assert.ok(s, 'sim-1 has history');
    const to = Date.now() + 60_000;
    const r = await get(ctx.port, `/api/history?sensor=${s.sensor}&metric=${s.metric}&from=${to - 3_600_000}&to=${to}&step=60000`);
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as { step: number; points: { t: number; min: number; avg: number; max: number; n: number }[]; gaps: unknown[] };
    assert.equal(body.step, 60_000);
    assert.ok(body.points.length >= 1 && body.points.every((p) => p.min <= p.avg && p.avg <= p.max && p.n > 0 && p.t % 60_000 === 0));
    const bad = async (query: string, msg: RegExp) => {
      const reply = await get(ctx.port, `/api/history?${query}`);
      assert.equal(reply.status, 400, query);
      assert.ok(!reply.body.includes('\n'), 'one line');
      assert.match((JSON.parse(reply.body) as { error: string }).error, msg);
    };
    await bad('metric=x', /sensor: required/);
    await bad(`sensor=sim-1&metric=${s.metric}&step=1000`, /multiple of the history's 60000 ms buckets/);
    await bad(`sensor=sim-1&metric=${s.metric}&from=${to}&to=${to - 1}`, /must be before/);
    await bad(`sensor=sim-1&metric=${s.metric}&from=1e3`, /integer/);
    await bad(`sensor=sim-1&metric=${s.metric}&from=${to - 400 * 86_400_000}&to=${to}&step=60000`, /at most 5000/);
    await bad(`sensor=sim-1&metric=${s.metric}&limit=3`, /unknown parameter "limit"/);
    assert.equal((await get(ctx.port, `/api/history?sensor=nobody&metric=${s.metric}`)).status, 404);
    // without an alerts section there is no history of alerts, and the answer says so
    assert.deepEqual(JSON.parse((await get(ctx.port, '/api/alerts/history')).body), { enabled: false, alerts: [] });
  });
});

describe('local HTTP with a token', () => {
  const token = 'correct-horse-battery-staple';
  let ctx: Awaited<ReturnType<typeof startDaemon>>;
  before(async () => {
    ctx = await startDaemon({ listen: '127.0.0.1:0', token });
  });
  after(async () => {
    await ctx.daemon.stop();
    await rm(ctx.dir, { recursive: true, force: true });
  });

  it('asks for the token everywhere but /healthz', async () => {
    for (const path of ['/', '/api/status', '/metrics', '/dashboard.js', '/charts.js', '/api/history/series', '/api/history?sensor=sim-1&metric=co2_ppm', '/api/alerts/history']) {
      const r = await get(ctx.port, path);
      assert.equal(r.status, 401, path);
      assert.match(r.body, /token is required/);
    }
    assert.equal((await get(ctx.port, '/healthz')).status, 200);
    assert.equal((await get(ctx.port, '/metrics', { Authorization: 'Bearer wrong-token-of-some-length' })).status, 401);
    await assert.rejects(openLive(ctx.port), /upgrade refused: 401/);
  });

  it('accepts a Bearer header, and turns /?token= into a cookie for the browser', async () => {
    const metrics = await get(ctx.port, '/metrics', { Authorization: `Bearer ${token}` });
    assert.equal(metrics.status, 200);
    assert.equal((await get(ctx.port, '/api/history/series', { Authorization: `Bearer ${token}` })).status, 200);
    assert.match(metrics.body, /fieldproof_http_rejected_total\{reason="unauthorized"\} \d+/);
    const login = await get(ctx.port, `/?token=${token}`);
    assert.equal(login.status, 303);
    assert.equal(login.headers.location, '/');
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    assert.match(cookie, /^fieldproof_token=/);
    assert.equal((await get(ctx.port, '/', { Cookie: cookie })).status, 200);
    const { ws, messages } = await openLive(ctx.port, { Cookie: cookie });
    await waitFor('snapshot', () => messages.find((m) => m.type === 'snapshot'));
    ws.close();
  });
});

describe('local HTTP against a host that opens connections and says nothing', () => {
  let ctx: Awaited<ReturnType<typeof startDaemon>>;
  const held: Socket[] = [];
  before(async () => {
    ctx = await startDaemon({ listen: '127.0.0.1:0', token: 'correct-horse-battery-staple' });
  });
  after(async () => {
    for (const s of held) s.destroy();
    await ctx.daemon.stop();
    await rm(ctx.dir, { recursive: true, force: true });
  });

  /** A connection that sends nothing; resolves once open, with whether the server closed it at once. */
  const idle = (localAddress: string) => new Promise<{ socket: Socket; closed: Promise<boolean> }>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: ctx.port, localAddress }, () => {
      held.push(socket);
      resolve({ socket, closed: new Promise((r) => { socket.once('close', () => r(true)); setTimeout(() => r(false), 1000).unref(); }) });
    });
    socket.on('error', () => undefined);
  });

  it('takes 32 from one address and 256 in all, closes the rest at once, counts them, and keeps its file descriptors', async () => {
    // each connection is a file descriptor the journal, the gateway and the uplink need as well
    const first = await Promise.all(Array.from({ length: MAX_CONNECTIONS_PER_CLIENT + 1 }, () => idle('127.0.0.2')));
    assert.deepEqual((await Promise.all(first.map((c) => c.closed))).filter(Boolean).length, 1, 'the one over the per-address limit');
    for (let a = 3; held.filter((s) => !s.destroyed).length < MAX_CONNECTIONS; a++) {
      await Promise.all(Array.from({ length: Math.min(MAX_CONNECTIONS_PER_CLIENT, MAX_CONNECTIONS - held.filter((s) => !s.destroyed).length) }, () => idle(`127.0.0.${a}`)));
    }
    const over = await idle('127.0.0.200');
    assert.equal(await over.closed, true, 'the one over the limit in all');
    for (const s of held.splice(0)) s.destroy();
    // the server sees the connections close a moment later
    let metrics: Reply | null = null;
    for (let i = 0; i < 100 && metrics?.status !== 200; i++) {
      metrics = await get(ctx.port, '/metrics', { Authorization: 'Bearer correct-horse-battery-staple' }).catch(() => null);
      if (metrics?.status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(metrics?.status, 200);
    assert.match(metrics.body, /fieldproof_http_rejected_total\{reason="client_connections"\} 1/);
    // (and any of the tries above that came while the server still counted the closed ones)
    assert.match(metrics!.body, /fieldproof_http_rejected_total\{reason="connections"\} [1-9]/);
  });
});

describe('local HTTP listen failures', () => {
  it('names the address when it is taken', async () => {
    const first = await startDaemon({ listen: '127.0.0.1:0' });
    try {
      const dir = await mkdtemp(join(tmpdir(), 'fieldproof-http-'));
      const raw = deviceConfigSchema.parse({ device: 'test-gw2', dataDir: dir, http: { listen: `127.0.0.1:${first.port}` } });
      const second = new Daemon(resolveDeviceConfig(raw, dir), silentLogger());
      await assert.rejects(second.start(), { message: `http.listen 127.0.0.1:${first.port}: cannot listen: the address is in use` });
      await rm(dir, { recursive: true, force: true });
    } finally {
      await first.daemon.stop();
      await rm(first.dir, { recursive: true, force: true });
    }
  });
});
