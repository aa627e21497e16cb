// The device daemon: opens the journal with the device key, starts the optional parts (gateway,
// validation, alerts, uplink, local HTTP) and the drivers, and stops them all in reverse.
import type { Logger } from 'pino';
import { createDriver } from '../drivers/index.ts';
import type { Driver, DriverStatus } from '../kernel/source.ts';
import type { JournalRecord, ReadingInput } from '../protocol/records.ts';
import type { DeviceKey } from '../protocol/signature.ts';
import type { Component } from '../kernel/component.ts';
import type { DaemonContext } from './daemon-context.ts';
import { componentFactories, journalHolds } from './components.ts';
import type { DeviceConfig } from './config/device-config.ts';
import { loadOrCreateKey } from '../runtime/device-key.ts';
import { ClockSync } from '../runtime/clock/clock-sync.ts';
import { readOsClock } from '../runtime/clock/os-clock.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { Registry } from '../kernel/metrics.ts';
import { Pipeline } from '../runtime/pipeline.ts';
import { MapStatusBoard } from '../kernel/status-board.ts';

export interface DaemonOptions {
  /** how often a progress line is logged (its lastSeq is durable when logged) */
  progressMs?: number;
}

/** How long one ask of chronyc or timedatectl may take before it counts as no answer. */
const CLOCK_READ_TIMEOUT_MS = 1500;

export class Daemon {
  private journal: Journal | null = null;
  private clock: ClockSync | null = null;
  private drivers: Driver[] = [];
  private components: Component[] = [];
  private progressTimer: NodeJS.Timeout | null = null;
  private readonly statuses = new Map<string, DriverStatus>();
  private stopping: Promise<void> | null = null;
  readonly metrics = new Registry();
  readonly board = new MapStatusBoard();
  private ctx: DaemonContext | null = null;
  key: DeviceKey | null = null;

  readonly config: DeviceConfig;
  private readonly log: Logger;
  private readonly opts: DaemonOptions;

  constructor(
    config: DeviceConfig,
    log: Logger,
    opts: DaemonOptions = {},
  ) {
    this.config = config;
    this.log = log;
    this.opts = opts;
  }

  get context(): DaemonContext {
    if (!this.ctx) throw new Error('the daemon is not started');
    return this.ctx;
  }

  async start(): Promise<void> {
    const { config, log } = this;
    const { key, created } = loadOrCreateKey(config.dataDir);
    this.key = key;
    if (created) log.info({ key: key.public }, 'device key created');
    // Every header states the clock's sync state as the OS reports it, read ahead of sealing.
    const clock = new ClockSync({ read: () => readOsClock({ timeoutMs: CLOCK_READ_TIMEOUT_MS }), log: log.child({ part: 'clock' }), metrics: this.metrics });
    await clock.start();
    this.clock = clock;
    const journal = await Journal.open({
      dir: config.dataDir,
      device: config.device,
      key,
      log: log.child({ part: 'journal' }),
      metrics: this.metrics,
      batch: config.batch,
      maxBytes: config.journal.maxBytes,
      policy: config.journal.policy,
      commitMaxWaitMs: config.journal.commitMaxWaitMs,
      commitMaxRecords: config.journal.commitMaxRecords,
      clockState: () => clock.current(),
    });
    this.journal = journal;
    // before the uplink acknowledges anything: the publishers start after it
    await journal.keepHolds(journalHolds(config));
    const pipeline = new Pipeline(journal, log.child({ part: 'pipeline' }), this.metrics);

    const ctx: DaemonContext = {
      config,
      log,
      metrics: this.metrics,
      journal,
      key,
      emit: (r: ReadingInput) => pipeline.emit(r),
      onCommitted: (l: (records: readonly JournalRecord[]) => void) => void journal.onCommitted(l),
      addAssessor: (a) => pipeline.addAssessor(a),
      sourceStatuses: () => this.sourceStatuses(),
      statusChanged: (s) => this.noteStatus(s),
      board: this.board,
      services: {},
    };
    this.ctx = ctx;

    try {
      for (const factory of componentFactories) {
        const component = await factory(ctx);
        if (!component) continue;
        await component.start();
        this.components.push(component);
        log.info({ component: component.name }, 'started');
      }
      for (const dc of config.drivers) {
        const driver = await createDriver(dc, {
          emit: ctx.emit,
          statusChanged: ctx.statusChanged,
          lastDurable: (sensor, metric) => journal.rememberLast(sensor, metric),
          declarePlan: (plan) => {
            journal.appendPlan(plan).catch((err) => log.error({ driver: dc.id, err: (err as Error).message }, 'monitoring plan not journaled'));
          },
          log: log.child({ driver: dc.id }),
          metrics: this.metrics,
        });
        await driver.start();
        this.drivers.push(driver);
        this.noteStatus(driver.status());
      }
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
    this.startProgress();
    log.info({ device: config.device, key: key.public, drivers: this.drivers.length, components: this.components.map((c) => c.name) }, 'fieldproof running');
  }

  /** Drivers are asked now (their counters move between state changes); other sources report. */
  sourceStatuses(): DriverStatus[] {
    for (const d of this.drivers) this.statuses.set(d.id, d.status());
    return [...this.statuses.values()];
  }

  private noteStatus(s: DriverStatus): void {
    const before = this.statuses.get(s.id);
    this.statuses.set(s.id, s);
    if (before && before.state !== s.state) this.log.info({ source: s.id, from: before.state, to: s.state, detail: s.detail }, 'source state changed');
  }

  /** A line every progressMs: the seq it names is durable, which the crash tests rely on. */
  private startProgress(): void {
    const every = this.opts.progressMs ?? 5000;
    let lastSeq = this.journal!.stats().lastSeq;
    let lastAt = Date.now();
    this.progressTimer = setInterval(() => {
      const s = this.journal!.stats();
      const now = Date.now();
      const rate = Math.round(((s.lastSeq - lastSeq) * 1000) / Math.max(1, now - lastAt));
      lastSeq = s.lastSeq;
      lastAt = now;
      this.log.info({ lastSeq: s.lastSeq, lastBatch: s.lastBatch, ackedBatch: s.ackedBatch, unsentRecords: s.unsentRecords, heldRecords: s.heldRecords, bytes: s.bytes, perSecond: rate }, 'progress');
    }, every);
    this.progressTimer.unref();
  }

  stats() {
    return this.journal?.stats() ?? null;
  }

  /** Stop the sources, then the parts in reverse, then drain and seal the journal. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.progressTimer) clearInterval(this.progressTimer);
    for (const d of this.drivers.reverse()) {
      await d.stop().catch((err) => this.log.error({ driver: d.id, err: (err as Error).message }, 'driver stop failed'));
      this.noteStatus(d.status());
    }
    for (const c of this.components.reverse()) {
      await c.stop().catch((err) => this.log.error({ component: c.name, err: (err as Error).message }, 'stop failed'));
    }
    if (this.journal) {
      await this.journal.close();
      const s = this.journal.stats();
      this.log.info({ lastSeq: s.lastSeq, lastBatch: s.lastBatch, unsentRecords: s.unsentRecords }, 'fieldproof stopped');
    }
    await this.clock?.stop();
  }
}
