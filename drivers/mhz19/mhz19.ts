// The MH-Z19 driver: polls CO2 and temperature (command 0x86) on a serial port and emits one
// reading of each per poll, flagged with what is known about its quality. A failed poll emits both
// with value null and the failure's flag. The sensor warms up after power-on: the warm-up window
// starts when the driver starts and again whenever the sensor answers after being down (a sensor
// that went silent most often lost power).
import { counter } from '../../kernel/metrics.ts';
import { PollMetrics } from '../poll/poll-metrics.ts';
import type { ReadingInput } from '../../protocol/records.ts';
import type { ReadError } from '../poll/errors.ts';
import { PollScheduler, type PollHealth, type PollJob, type PollOutcome, type PollTiming } from '../poll/scheduler.ts';
import { StatusTracker } from '../poll/status-tracker.ts';
import { assessQuality, failedQuality, type QualityInputs } from '../quality.ts';
import type { Driver, DriverContext, DriverStatus } from '../../kernel/source.ts';
import { Mhz19Client } from './client.ts';
import type { Mhz19DriverConfig } from './config.ts';
import type { Co2Response } from './protocol.ts';

const TEMPERATURE_RANGE = { min: -10, max: 60 };

export interface ReadContext {
  ts: number;
  /** extra attempts the poll needed */
  retries: number;
  warmingUp: boolean;
  calibratedAt: number | undefined;
}

/**
 * The two readings one 0x86 answer gives, with their quality. The quality inputs are kept and
 * refilled for every answer (assessQuality only reads them): per poll only what is emitted is new.
 */
export class Mhz19Readings {
  private readonly co2: QualityInputs;
  private readonly temperature: QualityInputs = { now: 0, value: 0, range: TEMPERATURE_RANGE, retries: 0 };

  private readonly config: Pick<Mhz19DriverConfig, 'id' | 'rangePpm'>;

  constructor(config: Pick<Mhz19DriverConfig, 'id' | 'rangePpm'>) {
    this.config = config;
    // the sensor clips at its range: a reading at the top is as suspect as one above it
    this.co2 = { now: 0, value: 0, expectCalibration: true, range: { min: 0, max: config.rangePpm - 1 }, retries: 0 };
  }

  emit(r: Co2Response, c: ReadContext, emit: (reading: ReadingInput) => void): void {
    const { id } = this.config;
    const q = this.co2;
    q.now = c.ts;
    q.value = r.co2Ppm;
    q.calibratedAt = c.calibratedAt;
    q.warmingUp = c.warmingUp;
    q.retries = c.retries;
    emit({ sensor: id, metric: 'co2_ppm', ts: c.ts, value: r.co2Ppm, unit: 'ppm', quality: assessQuality(q) });
    const t = this.temperature;
    t.now = c.ts;
    t.value = r.temperatureC;
    t.retries = c.retries;
    emit({ sensor: id, metric: 'temperature_c', ts: c.ts, value: r.temperatureC, unit: 'degC', quality: assessQuality(t) });
  }
}

export class Mhz19Driver implements Driver {
  readonly kind = 'mhz19';
  private client: Mhz19Client | undefined;
  private scheduler: PollScheduler | undefined;
  private readonly tracker: StatusTracker;
  private warmupFrom = 0;
  /** the sensor was down since its last answer: when it answers, the warm-up starts again */
  private wasDown = false;
  private readonly readContext: ReadContext = { ts: 0, retries: 0, warmingUp: false, calibratedAt: undefined };
  private readonly emit = (r: ReadingInput) => this.ctx.emit(r);
  private readonly builder: Mhz19Readings;
  private calibratedAt: number | undefined;

  private readonly config: Mhz19DriverConfig;
  private readonly ctx: DriverContext;

  constructor(
    config: Mhz19DriverConfig,
    ctx: DriverContext,
  ) {
    this.config = config;
    this.ctx = ctx;
    this.tracker = new StatusTracker(config.id, 'mhz19', ctx);
    this.builder = new Mhz19Readings(config);
  }

  get id(): string {
    return this.config.id;
  }

  async start(): Promise<void> {
    const { config, ctx } = this;
    const rejected = counter(ctx.metrics, 'fieldproof_mhz19_rejected_bytes_total', 'Bytes from MH-Z19 sensors that were not part of a valid frame', ['driver', 'reason']);
    const pollMetrics = new PollMetrics(ctx.metrics, config.id);
    this.calibratedAt = config.calibratedAt ? Date.parse(config.calibratedAt) : undefined;
    this.client = new Mhz19Client(
      config.port,
      config.timeoutMs,
      (reason, bytes) => rejected.inc({ driver: config.id, reason }, bytes),
      (reason) => ctx.log.warn({ reason }, 'serial port lost; reopening'),
    );
    this.warmupFrom = Date.now();
    this.tracker.set('starting');
    const client = this.client;
    const timing: PollTiming = config;
    const job: PollJob<Co2Response> = {
      name: config.id,
      timing,
      attempt: async () => {
        if (!client.line.isOpen) await client.open();
        return client.readCo2();
      },
      recover: async (why: ReadError) => {
        if (why.flag === 'port_unavailable' || !client.line.isOpen) {
          await client.close();
          await client.open();
        } else {
          await client.resync();
        }
      },
      onOutcome: (outcome, health) => {
        pollMetrics.record(outcome);
        this.handle(outcome, health);
      },
    };
    this.scheduler = new PollScheduler();
    this.scheduler.add(job);
    this.scheduler.start();
  }

  private handle(outcome: PollOutcome<Co2Response>, health: PollHealth): void {
    const { id } = this.config;
    const ts = outcome.startedAt;
    if (!outcome.ok) {
      this.ctx.emit({ sensor: id, metric: 'co2_ppm', ts, value: null, unit: 'ppm', quality: failedQuality(outcome.error.flag) });
      this.ctx.emit({ sensor: id, metric: 'temperature_c', ts, value: null, unit: 'degC', quality: failedQuality(outcome.error.flag) });
      this.wasDown ||= health.down;
      this.tracker.failed(2, outcome.error.message, health);
      return;
    }
    if (this.wasDown) {
      // back after a silence long enough to be a power cut: the lamp warms up again
      this.wasDown = false;
      this.warmupFrom = ts;
    }
    const rc = this.readContext;
    rc.ts = ts;
    rc.retries = outcome.attempts - 1;
    rc.warmingUp = ts - this.warmupFrom < this.config.warmupMs;
    rc.calibratedAt = this.calibratedAt;
    this.builder.emit(outcome.value, rc, this.emit);
    this.tracker.succeeded(2, ts);
  }

  async stop(): Promise<void> {
    await this.scheduler?.stop();
    this.scheduler = undefined;
    await this.client?.close();
    this.client = undefined;
    this.tracker.set('stopped');
  }

  status(): DriverStatus {
    return this.tracker.status();
  }
}
