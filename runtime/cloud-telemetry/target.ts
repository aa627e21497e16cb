// One cloud IoT platform fed from the journal: a connection (../mqtt/link.ts), a durable cursor
// of what the platform acknowledged (`cloud-telemetry-<target>.json` in the data dir), live
// records sent as they are committed and what the platform missed sent afterwards from the
// journal (../mqtt/journal-forwarder.ts), as JSON arrays within the platform's limits.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ThrottledWarn } from '../../kernel/log-throttle.ts';
import { redactUrl } from '../../kernel/redact.ts';
import type { JournalRecord } from '../../protocol/records.ts';
import type { PublishedJournal } from '../mqtt/journal-backlog.ts';
import { JournalForwarder } from '../mqtt/journal-forwarder.ts';
import { MqttLink } from '../mqtt/link.ts';
import { PublishedCursor } from '../mqtt/published-cursor.ts';
import { toMessages } from './messages.ts';
import type { CloudTelemetryMetrics } from './metrics.ts';
import type { Platform } from './platforms.ts';

/** What a target reports for the status page. */
export interface TargetState {
  connected: boolean;
  /** every journal seq up to here is acknowledged */
  acknowledgedThrough: number;
  /** journal records the platform does not have yet */
  backlog: number;
  /** records the journal's disk bound dropped before the platform had them, since start (the sink has them) */
  lostToDiskBound: number;
}

export interface TargetDeps {
  platform: Platform;
  dataDir: string;
  journal: PublishedJournal;
  log: Logger;
  metrics: CloudTelemetryMetrics;
  /** the target's state changed (connected, or its backlog as of the last cursor save) */
  report(state: TargetState): void;
}

export class TelemetryTarget {
  private readonly d: TargetDeps;
  private readonly label: { target: string };
  private cursor!: PublishedCursor;
  private link!: MqttLink;
  private forwarder!: JournalForwarder;
  private refusedLog!: ThrottledWarn;
  private renewal: NodeJS.Timeout | null = null;
  private connections = 0;
  private online = false;
  /** the connection is being closed on purpose (a token renewal, a stop): not a lost connection */
  private closing = false;
  private backlog = 0;

  constructor(deps: TargetDeps) {
    this.d = deps;
    this.label = { target: deps.platform.name };
  }

  get name(): string {
    return this.d.platform.name;
  }

  start(): void {
    const { platform, log, metrics, journal } = this.d;
    this.refusedLog = new ThrottledWarn(log);
    this.cursor = new PublishedCursor(join(this.d.dataDir, `cloud-telemetry-${platform.name}.json`), platform.name);
    try {
      this.cursor.load();
    } catch (err) {
      // a damaged cursor costs repeats, not the daemon: everything the journal holds is sent again
      log.warn({ err: (err as Error).message }, `${platform.name} cursor unreadable; sending every record the journal holds again`);
    }
    this.link = new MqttLink({
      name: platform.name,
      url: platform.url,
      reconnectMs: platform.limits.reconnectMs,
      maxInFlight: platform.limits.maxInFlight,
      log,
      options: () => platform.options(),
      onConnect: () => this.connected(),
      onOffline: () => this.offline(),
      onError: () => metrics.errors.inc({ ...this.label, reason: 'connection' }),
    });
    this.forwarder = new JournalForwarder({
      name: platform.name, limits: platform.limits, journal, cursor: this.cursor, link: this.link, log,
      send: (records, historical) => this.send(records, historical),
      replayed: (n) => metrics.replayed.inc(this.label, n),
      missed: (n) => metrics.errors.inc({ ...this.label, reason: 'not_in_journal' }, n),
      lost: (n) => {
        metrics.errors.inc({ ...this.label, reason: 'disk_full' }, n);
        this.report();
      },
      behind: (n) => {
        metrics.backlog.set(this.label, n);
        this.backlog = n;
        this.report();
      },
    });
    this.forwarder.start();
    this.link.start();
    log.info({ url: redactUrl(platform.url), publishedThrough: this.cursor.through }, `${platform.name} telemetry started`);
  }

  private report(): void {
    this.d.report({ connected: this.online, acknowledgedThrough: this.cursor.through, backlog: this.backlog, lostToDiskBound: this.forwarder?.lost ?? 0 });
  }

  live(records: readonly JournalRecord[]): void {
    this.forwarder.live(records);
  }

  private connected(): void {
    const { platform, metrics, log } = this.d;
    if (this.connections++ > 0) metrics.reconnects.inc(this.label);
    metrics.connected.set(this.label, 1);
    this.online = true;
    this.closing = false;
    this.report();
    log.info({ url: redactUrl(platform.url) }, `${platform.name} connected`);
    const renewAt = platform.renewAt?.();
    if (renewAt !== undefined && Number.isFinite(renewAt)) {
      // a new credential before this one expires: the platform would close the connection at expiry
      this.renewal = setTimeout(() => void this.renewCredential(), Math.max(0, renewAt - Date.now()));
      this.renewal.unref();
    }
    this.forwarder.connected();
  }

  /** Disconnects on purpose and connects again at once with a new SAS token. */
  async renewCredential(): Promise<void> {
    this.d.log.info(`${this.d.platform.name} renewing its SAS token`);
    this.closing = true;
    await this.link.renew();
  }

  private offline(): void {
    if (this.renewal) clearTimeout(this.renewal);
    this.renewal = null;
    if (this.online && !this.closing) this.d.metrics.errors.inc({ ...this.label, reason: 'connection_lost' });
    this.online = false;
    this.report();
    this.d.metrics.connected.set(this.label, 0);
    this.forwarder.offline();
  }

  /** Publishes records (in seq order) as JSON arrays, QoS 1; the cursor advances on each PUBACK. False when offline. */
  private send(records: readonly JournalRecord[], historical: boolean): boolean {
    const { platform, metrics } = this.d;
    const wanted = records.filter((r) => {
      // a meter's monitoring plan is for the MRV report, not telemetry
      if (r.kind !== 'plan') return true;
      this.cursor.mark(r.seq, r.seq);
      return false;
    });
    const { messages, refused } = toMessages(wanted, historical, { maxBytes: platform.limits.maxBytes, maxRecords: platform.limits.maxRecords, topicOf: (r) => platform.topicOf(r) });
    for (const { record, reason } of refused) {
      metrics.errors.inc({ ...this.label, reason });
      this.refusedLog.warn(reason, { seq: record.seq, reason }, `${platform.name}: a record that cannot be sent (${reason.replaceAll('_', ' ')}), passed over`);
      this.cursor.mark(record.seq, record.seq);
    }
    for (const m of messages) {
      const sent = this.link.publish(m.topic, m.payload, 1, (err) => {
        if (err) {
          metrics.errors.inc({ ...this.label, reason: 'publish_lost' });
          return;
        }
        metrics.acknowledged.inc(this.label, m.records.length);
        for (const r of m.records) this.cursor.mark(r.seq, r.seq);
      });
      if (!sent) return false;
      metrics.published.inc(this.label);
    }
    return true;
  }

  async stop(): Promise<void> {
    if (!this.forwarder) return;
    if (this.renewal) clearTimeout(this.renewal);
    await this.forwarder.stop(() => {
      this.closing = true;
      return this.link.stop();
    });
    this.d.metrics.connected.set(this.label, 0);
  }
}
