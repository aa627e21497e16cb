// The fleet's live feed bounds what its subscribers may cost: a few at most, heartbeats on an idle
// feed, and a subscriber that reads nothing dropped once its unread bytes pass the bound, while the
// others keep receiving. Real HTTP and a real socket that stops reading; the view is a stand-in
// that returns a large snapshot, since what is tested here is the feed, not the view.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { silentLogger } from '../../kernel/log.ts';
import { Registry } from '../../kernel/metrics.ts';
import { FleetFeed } from './fleet-feed.ts';
import type { FleetView } from './fleet-view.ts';

describe('the fleet live feed', () => {
  const metrics = new Registry();
  // Some 200 KB a view, as a fleet of a thousand devices would be.
  const devices = Array.from({ length: 1000 }, (_, i) => ({ device: `site-${i}`, note: 'x'.repeat(180) }));
  const view = { version: 0, snapshot: async () => ({ at: Date.now(), devices }) } as unknown as FleetView;
  const feed = new FleetFeed({ view, log: silentLogger(), metrics, config: { maxSubscribers: 3, tickMs: 20, refreshMs: 40, heartbeatMs: 30, maxUnreadBytes: 512 * 1024 } });
  let server: Server;
  let base: string;

  before(async () => {
    server = createServer((req, res) => {
      if (!feed.subscribe(res)) {
        res.writeHead(503).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    feed.start();
  });
  after(async () => {
    feed.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const dropped = async () => (await metrics.getSingleMetric('fieldproof_sink_fleet_subscribers_dropped_total')!.get()).values;

  it('drops a subscriber that stops reading, keeps one that reads, and refuses one too many', async () => {
    // A reader that keeps up.
    const reader = await request(`${base}/`);
    let read = 0;
    const reading = (async () => {
      for await (const chunk of reader.body) read += chunk.length;
    })().catch(() => {});
    // A client that sends its request and never reads a byte.
    const stalled = connect((server.address() as AddressInfo).port, '127.0.0.1');
    stalled.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    stalled.pause();
    let closed = false;
    stalled.on('close', () => (closed = true));
    stalled.on('error', () => {});
    const third = await request(`${base}/`);
    assert.equal(third.statusCode, 200);
    const fourth = await request(`${base}/`);
    assert.equal(fourth.statusCode, 503, 'at most 3 subscribers');
    await fourth.body.dump();
    third.body.destroy();

    for (let i = 0; i < 200 && !(await dropped()).some((v) => v.labels.reason === 'slow'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok((await dropped()).some((v) => v.labels.reason === 'slow' && v.value >= 1), 'the stalled subscriber was dropped');
    // Reading again, it finds what the kernel held, then the end of the connection.
    stalled.resume();
    for (let i = 0; i < 200 && !closed; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(closed, 'its connection was closed');
    const before = read;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(read > before, 'the reader still receives views');
    reader.body.destroy();
    await reading;
  });

  it('sends heartbeats on a feed whose view does not change', async () => {
    const quiet = new FleetFeed({ view, log: silentLogger(), metrics: new Registry(), config: { tickMs: 10, refreshMs: 60_000, heartbeatMs: 30 } });
    const s = createServer((_req, res) => void quiet.subscribe(res));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    quiet.start();
    const res = await request(`http://127.0.0.1:${(s.address() as AddressInfo).port}/`);
    let text = '';
    for await (const chunk of res.body) {
      text += chunk.toString();
      if ((text.match(/: heartbeat\n\n/g) ?? []).length >= 2) break;
    }
    assert.equal((text.match(/event: fleet\n/g) ?? []).length, 1, 'one view, then only heartbeats');
    quiet.stop();
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  });
});
