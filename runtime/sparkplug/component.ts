// Readings on the site's MQTT broker as Sparkplug B: the device is an edge node, each sensor a
// Sparkplug device (see README.md). Live records go out as they are committed; what the broker
// missed (an outage, a restart, a connection too slow to keep up) is sent afterwards from the
// journal, in seq order and flagged historical, beside the live data rather than ahead of it.
// A durable cursor in the data dir says which records the broker has (../mqtt/journal-forwarder.ts).
import type { Component, StatusBoard } from '../../kernel/component.ts';
import type { GapRecord, JournalRecord, ReadingRecord } from '../../protocol/records.ts';
import { MetricCatalog } from './catalog.ts';
import { SPARKPLUG, type SparkplugConfig } from './config.ts';
import { SparkplugCursor } from './cursor.ts';
import { sparkplugMetrics, type SparkplugMetrics } from './metrics.ts';
import { gapMetric, readingMetrics, type UMetric } from './payloads.ts';
import { JournalForwarder, type JournalPublisherDeps } from '../mqtt/journal-forwarder.ts';
import { SparkplugSession } from './session.ts';

/** Records of one sensor in one DDATA, at most. */
const MAX_RECORDS_PER_MESSAGE = 200;

/** The device name is the edge node id. */
export interface SparkplugDeps extends JournalPublisherDeps {
  config: SparkplugConfig;
  /** where the publisher's state goes for the status page (`sparkplug`: acknowledgedThrough, backlog, lostToDiskBound) */
  board?: StatusBoard;
}

export class SparkplugComponent implements Component {
  readonly name = 'sparkplug';
  private readonly d: SparkplugDeps;
  private m!: SparkplugMetrics;
  private cursor!: SparkplugCursor;
  private catalog!: MetricCatalog;
  private session!: SparkplugSession;
  private forwarder!: JournalForwarder;
  private running = false;
  private behind = 0;
  private shown = '';

  constructor(deps: SparkplugDeps) {
    this.d = deps;
  }

  async start(): Promise<void> {
    const { config, device, dataDir, log } = this.d;
    this.m = sparkplugMetrics(this.d.metrics);
    this.cursor = new SparkplugCursor(dataDir);
    try {
      this.cursor.load();
    } catch (err) {
      // a damaged cursor costs repeats, not the daemon: everything the journal holds is sent again, historical
      log.warn({ err: (err as Error).message }, 'sparkplug cursor unreadable; sending every record the journal holds again');
    }
    this.catalog = new MetricCatalog(config.maxMetrics);
    this.session = new SparkplugSession({
      config, node: device, cursor: this.cursor, log, metrics: this.m,
      onBirth: (rebirth) => this.born(rebirth),
      onOffline: () => this.forwarder.offline(),
    });
    this.forwarder = new JournalForwarder({
      name: SPARKPLUG, limits: config, journal: this.d.journal, cursor: this.cursor, link: this.session, log,
      send: (records, historical) => this.send(records, historical),
      replayed: (n) => this.m.replayed.inc(n),
      missed: (n) => this.m.missed.inc({ reason: 'not_in_journal' }, n),
      lost: (n) => {
        this.m.missed.inc({ reason: 'disk_full' }, n);
        this.show();
      },
      behind: (n) => {
        this.m.behind.set(n);
        this.behind = n;
        this.show();
      },
    });
    this.running = true;
    this.forwarder.start();
    this.d.onCommitted((records) => this.forwarder.live(records));
    this.session.start();
    log.info({ group: config.group, node: device, publishedThrough: this.cursor.through }, 'sparkplug started');
  }

  /** On the board only when something changed: the backlog is reported every second. */
  private show(): void {
    const state = { acknowledgedThrough: this.cursor.through, backlog: this.behind, lostToDiskBound: this.forwarder?.lost ?? 0 };
    const text = JSON.stringify(state);
    if (text === this.shown) return;
    this.shown = text;
    this.d.board?.set('sparkplug', state);
  }

  /** NBIRTH is out: a DBIRTH for every device known, then (on a new connection) the backlog. */
  private born(rebirth: boolean): void {
    for (const sensor of this.catalog.sensors()) this.birthDevice(sensor, false);
    if (!rebirth) this.forwarder.connected();
  }

  private birthDevice(sensor: string, again: boolean): void {
    const now = Date.now();
    if (again) this.session.publish('DDEATH', sensor, { timestamp: now, metrics: [] }, () => undefined);
    const metrics = this.catalog.metricsOf(sensor).flatMap((r) => readingMetrics(r, { historical: false, birth: true }));
    this.session.publish('DBIRTH', sensor, { timestamp: now, metrics }, () => undefined);
  }

  /**
   * Publishes records (in seq order): a DDATA per sensor, NDATA for gap records, each preceded by
   * a DBIRTH when it brings a device or metric not yet announced. False when offline.
   */
  private send(records: readonly JournalRecord[], historical: boolean): boolean {
    const bySensor = new Map<string, ReadingRecord[]>();
    const gaps: GapRecord[] = [];
    const rebirth = new Map<string, boolean>();
    for (const r of records) {
      if (r.kind === 'gap') {
        gaps.push(r);
        continue;
      }
      if (r.kind === 'plan' || r.kind === 'restart') {
        // a meter's monitoring plan is for the MRV report, a restart for the sink: not values a SCADA system shows
        this.cursor.mark(r.seq, r.seq);
        continue;
      }
      const seen = this.catalog.observe(r);
      if (seen === 'refused') {
        this.m.missed.inc({ reason: 'too_many_metrics' });
        this.cursor.mark(r.seq, r.seq);
        continue;
      }
      // a device born before this call dies and is born again with its new metric; a new one is just born
      if (seen === 'new-device') rebirth.set(r.sensor, false);
      else if (seen === 'new-metric' && !rebirth.has(r.sensor)) rebirth.set(r.sensor, true);
      let list = bySensor.get(r.sensor);
      if (!list) bySensor.set(r.sensor, (list = []));
      list.push(r);
    }
    for (const [sensor, again] of rebirth) this.birthDevice(sensor, again);
    if (gaps.length > 0 && !this.publish('NDATA', undefined, gaps.map((g) => gapMetric(g, historical)), gaps)) return false;
    for (const [sensor, list] of bySensor) {
      for (let i = 0; i < list.length; i += MAX_RECORDS_PER_MESSAGE) {
        const part = list.slice(i, i + MAX_RECORDS_PER_MESSAGE);
        if (!this.publish('DDATA', sensor, part.flatMap((r) => readingMetrics(r, { historical })), part)) return false;
      }
    }
    return true;
  }

  private publish(type: 'NDATA' | 'DDATA', sensor: string | undefined, metrics: UMetric[], records: readonly JournalRecord[]): boolean {
    return this.session.publish(type, sensor, { timestamp: Date.now(), metrics }, (err) => {
      if (err) return;
      for (const r of records) this.cursor.mark(r.seq, r.seq);
    });
  }

  /** What is queued is sent (see JournalForwarder.stop), then NDEATH and a disconnect. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.forwarder.stop(() => this.session.stop());
  }
}
