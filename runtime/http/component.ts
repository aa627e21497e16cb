// The local HTTP part of the daemon: the dashboard feed and the server that shows it. Started when
// the device config has an `http:` section (`http: {}` takes the defaults); the snap's configure
// hook always writes one, so an installed device always has its page.
import { collectDefaultMetrics } from 'prom-client';
import type { Component, ComponentFactory, DaemonContext } from '../component.ts';
import type { HttpConfig } from './config.ts';
import { DashboardFeed } from './dashboard-feed.ts';
import { LocalHttpServer } from './server.ts';

export class LocalHttpComponent implements Component {
  readonly name = 'http';
  readonly feed: DashboardFeed;
  readonly server: LocalHttpServer;

  constructor(
    private readonly ctx: DaemonContext,
    config: HttpConfig,
  ) {
    this.feed = new DashboardFeed(
      {
        device: ctx.config.device,
        key: ctx.key.public,
        onCommitted: (l) => ctx.onCommitted(l),
        sourceStatuses: () => ctx.sourceStatuses(),
        journalStats: () => ctx.journal.stats(),
        board: ctx.board,
      },
      { liveIntervalMs: config.liveIntervalMs, maxSensors: config.maxSensors, historyPoints: config.historyPoints },
    );
    this.server = new LocalHttpServer({ config, feed: this.feed, metrics: ctx.metrics, log: ctx.log.child({ part: 'http' }), downlinks: () => ctx.services.downlinks });
  }

  async start(): Promise<void> {
    // Process figures (RSS, CPU, event loop lag) belong next to the daemon's own on /metrics.
    const metrics = this.ctx.metrics;
    if (!metrics.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics({ register: metrics });
    await this.feed.start();
    try {
      await this.server.start();
    } catch (err) {
      await this.feed.stop();
      throw err;
    }
    // Where the page is, for whoever shows it (the demo prints it; port 0 became a real port).
    const { host, port } = this.server.address;
    this.ctx.board.set('http', { url: this.server.url, host, port });
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.feed.stop();
  }
}

export const localHttpFactory: ComponentFactory = (ctx) => {
  const section = (ctx.config as { http?: HttpConfig }).http;
  return section ? new LocalHttpComponent(ctx, section) : null;
};
