// The local HTTP part of the daemon: the dashboard feed and the server that shows it. Started when
// the device config has an `http:` section (`http: {}` takes the defaults); the snap's configure
// hook always writes one, so an installed device always has its page.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Component, DownlinkService } from '../../kernel/component.ts';
import type { HttpConfig } from './config.ts';
import { DashboardFeed, type DashboardSources } from './dashboard-feed.ts';
import { LocalHttpServer } from './server.ts';

/** What the page shows (DashboardSources), and where the part logs and counts. */
export interface LocalHttpDeps extends DashboardSources {
  log: Logger;
  metrics: Registry;
  /** the gateway's downlink queue, when the device has one (it may start after this part) */
  downlinks(): DownlinkService | undefined;
}

export class LocalHttpComponent implements Component {
  readonly name = 'http';
  readonly feed: DashboardFeed;
  readonly server: LocalHttpServer;
  private readonly deps: LocalHttpDeps;

  constructor(deps: LocalHttpDeps, config: HttpConfig) {
    this.deps = deps;
    this.feed = new DashboardFeed(
      deps,
      { liveIntervalMs: config.liveIntervalMs, maxSensors: config.maxSensors, historyPoints: config.historyPoints },
    );
    this.server = new LocalHttpServer({ config, feed: this.feed, metrics: deps.metrics, log: deps.log, downlinks: () => deps.downlinks() });
  }

  async start(): Promise<void> {
    await this.feed.start();
    try {
      await this.server.start();
    } catch (err) {
      await this.feed.stop();
      throw err;
    }
    // Where the page is, for whoever shows it (the demo prints it; port 0 became a real port).
    const { host, port } = this.server.address;
    this.deps.board.set('http', { url: this.server.url, host, port });
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.feed.stop();
  }
}
