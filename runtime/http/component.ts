// The local HTTP part of the daemon: the dashboard feed and the server that shows it. Started when
// the device config has an `http:` section (`http: {}` takes the defaults); the snap's configure
// hook always writes one, so an installed device always has its page.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AlertHistoryService, Component, DownlinkService } from '../../kernel/component.ts';
import type { JournalRecord } from '../../protocol/records.ts';
import { HistoryComponent, type HistoryJournal } from '../history/component.ts';
import type { HttpConfig } from './config.ts';
import { DashboardFeed, type DashboardSources } from './dashboard-feed.ts';
import { LocalHttpServer } from './server.ts';

/** What the page shows (DashboardSources), and where the part logs and counts. */
export interface LocalHttpDeps extends DashboardSources {
  log: Logger;
  metrics: Registry;
  /** the gateway's downlink queue, when the device has one (it may start after this part) */
  downlinks(): DownlinkService | undefined;
  /** the alert history, when the device has alerts */
  alertHistory(): AlertHistoryService | undefined;
  /** where the page's history is saved */
  dataDir: string;
  /** what the page's history is rebuilt from at start */
  journal: HistoryJournal;
}

export class LocalHttpComponent implements Component {
  readonly name = 'http';
  readonly feed: DashboardFeed;
  readonly server: LocalHttpServer;
  readonly history: HistoryComponent;
  private readonly deps: LocalHttpDeps;

  constructor(deps: LocalHttpDeps, config: HttpConfig) {
    this.deps = deps;
    this.feed = new DashboardFeed(
      deps,
      { liveIntervalMs: config.liveIntervalMs, maxSensors: config.maxSensors },
    );
    this.history = new HistoryComponent({
      config: config.history, dataDir: deps.dataDir, journal: deps.journal, log: deps.log, metrics: deps.metrics,
      onCommitted: (l: (records: readonly JournalRecord[]) => void) => deps.onCommitted(l),
    });
    this.server = new LocalHttpServer({
      config, feed: this.feed, metrics: deps.metrics, log: deps.log, downlinks: () => deps.downlinks(), history: this.history, alertHistory: () => deps.alertHistory(),
    });
  }

  async start(): Promise<void> {
    await this.history.start();
    await this.feed.start();
    try {
      await this.server.start();
    } catch (err) {
      await this.feed.stop();
      await this.history.stop();
      throw err;
    }
    // Where the page is, for whoever shows it (the demo prints it; port 0 became a real port).
    const { host, port } = this.server.address;
    this.deps.board.set('http', { url: this.server.url, host, port });
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.feed.stop();
    await this.history.stop();
  }
}
