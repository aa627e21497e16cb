// The ION7550 driver: reads the configured register map over Modbus TCP or RTU, as few requests as
// the map allows, and emits one reading per mapped register per poll. From the kWh-delivered counter
// it derives the energy of each interval (counter delta, with rollover and reset detected) and, given
// a grid emission factor, the avoided CO2e. A failed poll emits every mapped metric with value null
// and the failure's flag; a block the meter refuses with a Modbus exception fails alone.
import type { ReadingInput } from '../../protocol/records.ts';
import { counter } from '../../kernel/metrics.ts';
import { PollMetrics } from '../poll/poll-metrics.ts';
import { ReadError } from '../poll/errors.ts';
import { PollScheduler, type PollHealth, type PollOutcome } from '../poll/scheduler.ts';
import { StatusTracker } from '../poll/status-tracker.ts';
import { assessQuality, failedQuality, type QualityInputs } from '../quality.ts';
import type { Driver, DriverContext, DriverStatus } from '../../kernel/source.ts';
import type { Ion7550DriverConfig } from './config.ts';
import { EnergyCounter } from './energy.ts';
import { acquireLink, releaseLink, type ModbusLink, type ModbusTarget } from './modbus-link.ts';
import { decodeRaw, planBlocks, scaled, type RegisterBlock, type RegisterEntry } from './register-map.ts';

/** The largest counter value each register type holds, in raw units: where a meter wraps. */
const RAW_ROLLOVER: Record<RegisterEntry['type'], number> = {
  uint16: 2 ** 16,
  int16: 2 ** 15,
  uint32: 2 ** 32,
  int32: 2 ** 31,
  m10k: 1e8,
  float32: Number.MAX_VALUE,
};

export const ENERGY_INTERVAL_METRIC = 'energy_interval_kwh';
export const AVOIDED_CO2E_METRIC = 'avoided_co2e_kg';

export function modbusTarget(config: Ion7550DriverConfig): ModbusTarget {
  if (config.tcp) return { transport: 'tcp', host: config.tcp.host, port: config.tcp.port };
  const r = config.rtu!;
  return { transport: 'rtu', path: r.port, baudRate: r.baudRate, parity: r.parity, stopBits: r.stopBits };
}

/** What one poll read: per block the response bytes, or why the meter refused that block. */
export type BlockResults = (Buffer | ReadError)[];

/**
 * Turns block results into readings. Kept apart from the I/O so that golden cases can feed it
 * registers directly.
 */
export class Ion7550Decoder {
  readonly blocks: RegisterBlock[];
  private readonly energy: EnergyCounter | undefined;
  private readonly counterEntry: RegisterEntry | undefined;
  /** per entry, its range for the quality check, worked out once */
  private readonly ranges = new Map<RegisterEntry, { min: number; max: number } | undefined>();
  /** the quality inputs, reused for every value (assessQuality only reads them) */
  private readonly qi: QualityInputs = { now: 0, value: 0, retries: 0 };

  private readonly config: Ion7550DriverConfig;

  constructor(config: Ion7550DriverConfig) {
    this.config = config;
    this.blocks = planBlocks(config.registers, config.maxGapRegisters);
    for (const e of config.registers) {
      this.ranges.set(e, e.min !== undefined || e.max !== undefined ? { min: e.min ?? -Infinity, max: e.max ?? Infinity } : undefined);
    }
    this.counterEntry = config.registers.find((e) => e.metric === config.energy.counter);
    if (this.counterEntry) {
      this.energy = new EnergyCounter(config.energy.rolloverKwh ?? RAW_ROLLOVER[this.counterEntry.type] * this.counterEntry.scale);
    }
  }

  /** the metric whose values feed the energy intervals, if the map has it */
  get energyCounterMetric(): string | undefined {
    return this.counterEntry?.metric;
  }

  /** See EnergyCounter.resumeFrom. */
  resumeEnergy(counterKwh: number, ts: number): void {
    this.energy?.resumeFrom(counterKwh, ts);
  }

  get metricCount(): number {
    return this.config.registers.length;
  }

  decode(results: BlockResults, ts: number, retries: number, emit: (r: ReadingInput) => void): number {
    const sensor = this.config.id;
    let n = 0;
    for (let b = 0; b < this.blocks.length; b++) {
      const block = this.blocks[b]!;
      const data = results[b]!;
      for (const { entry, offset } of block.entries) {
        n++;
        if (data instanceof ReadError) {
          emit({ sensor, metric: entry.metric, ts, value: null, unit: entry.unit, quality: failedQuality(data.flag) });
          continue;
        }
        const value = scaled(decodeRaw(data, offset, entry.type), entry.scale);
        const qi = this.qi;
        qi.now = ts;
        qi.value = value;
        qi.retries = retries;
        qi.range = this.ranges.get(entry);
        emit({ sensor, metric: entry.metric, ts, value, unit: entry.unit, quality: assessQuality(qi) });
        if (entry === this.counterEntry) n += this.energyReadings(value, ts, retries, emit);
      }
    }
    return n;
  }

  /** Emit null for every mapped metric: the poll failed as a whole. */
  failed(flag: string, ts: number, emit: (r: ReadingInput) => void): number {
    const sensor = this.config.id;
    for (const e of this.config.registers) emit({ sensor, metric: e.metric, ts, value: null, unit: e.unit, quality: failedQuality(flag) });
    return this.config.registers.length;
  }

  private energyReadings(counterKwh: number, ts: number, retries: number, emit: (r: ReadingInput) => void): number {
    const step = this.energy!.next(counterKwh, ts);
    if (step.kind === 'first') return 0;
    const extra = step.kind === 'reset' ? [{ flag: 'counter_reset', deduction: 0.3 }] : step.kind === 'rollover' ? [{ flag: 'counter_rollover', deduction: 0 }] : undefined;
    const quality = assessQuality({ now: ts, value: step.kwh, retries, ...(extra ? { extra } : {}) });
    const meta = { since: step.since };
    const sensor = this.config.id;
    emit({ sensor, metric: ENERGY_INTERVAL_METRIC, ts, value: step.kwh, unit: 'kWh', quality, meta });
    const factor = this.config.energy.emissionFactorKgPerKwh;
    if (factor === undefined) return 1;
    const kg = Math.round(step.kwh * factor * 1e6) / 1e6;
    emit({ sensor, metric: AVOIDED_CO2E_METRIC, ts, value: kg, unit: 'kg', quality: { score: quality.score, flags: quality.flags.slice() }, meta: { since: step.since, emissionFactorKgPerKwh: factor } });
    return 2;
  }
}

/**
 * One poll: every block in turn, into `results` (reused between polls). A block the meter refuses
 * for good (a Modbus exception that will not clear: the map names a register it lacks) is recorded
 * as such so that the others still count; when every block is refused, or anything else goes wrong
 * (timeout, lost connection), the poll fails as a whole.
 */
export async function readMap(link: ModbusLink, unit: number, blocks: readonly RegisterBlock[], results: BlockResults, onRefused: () => void = () => {}): Promise<BlockResults> {
  let refused = 0;
  for (let b = 0; b < blocks.length; b++) {
    const block = blocks[b]!;
    try {
      results[b] = await link.readHolding(unit, block.address, block.count);
    } catch (err) {
      if (err instanceof ReadError && err.flag === 'modbus_exception' && !err.retryable) {
        results[b] = err;
        refused++;
        onRefused();
      } else throw err;
    }
  }
  if (refused === blocks.length) throw results[0];
  return results;
}

function firstRefused(results: BlockResults): ReadError | undefined {
  for (const r of results) if (r instanceof ReadError) return r;
  return undefined;
}

export class Ion7550Driver implements Driver {
  readonly kind = 'ion7550';
  private link: ModbusLink | undefined;
  private scheduler: PollScheduler | undefined;
  private readonly tracker: StatusTracker;

  private readonly config: Ion7550DriverConfig;
  private readonly ctx: DriverContext;

  constructor(
    config: Ion7550DriverConfig,
    ctx: DriverContext,
  ) {
    this.config = config;
    this.ctx = ctx;
    this.tracker = new StatusTracker(config.id, 'ion7550', ctx);
  }

  get id(): string {
    return this.config.id;
  }

  async start(): Promise<void> {
    const { config, ctx } = this;
    const pollMetrics = new PollMetrics(ctx.metrics, config.id);
    const exceptions = counter(ctx.metrics, 'fieldproof_modbus_exceptions_total', 'Modbus exception answers', ['driver']);
    const decoder = new Ion7550Decoder(config);
    const counterMetric = decoder.energyCounterMetric;
    const resumed = counterMetric ? ctx.lastDurable?.(config.id, counterMetric) : undefined;
    if (resumed) {
      decoder.resumeEnergy(resumed.value, resumed.ts);
      ctx.log.info({ counterKwh: resumed.value, ts: resumed.ts }, 'energy counter resumed from the journal');
    }
    const link = acquireLink(modbusTarget(config), config.timeoutMs);
    this.link = link;
    const results: BlockResults = new Array(decoder.blocks.length);
    const emit = (r: ReadingInput) => ctx.emit(r);
    const onRefused = () => exceptions.inc({ driver: config.id });
    this.tracker.set('starting');
    this.scheduler = new PollScheduler();
    this.scheduler.add<BlockResults>({
      name: config.id,
      timing: config,
      attempt: () => readMap(link, config.unit, decoder.blocks, results, onRefused),
      recover: async () => {
        // a stale answer to a timed-out request must not be taken for the next one: start afresh
        await link.reconnect();
      },
      onOutcome: (outcome: PollOutcome<BlockResults>, health: PollHealth) => {
        const ts = outcome.startedAt;
        pollMetrics.record(outcome);
        if (!outcome.ok) {
          this.tracker.failed(decoder.failed(outcome.error.flag, ts, emit), outcome.error.message, health);
          return;
        }
        const n = decoder.decode(outcome.value, ts, outcome.attempts - 1, emit);
        this.tracker.succeeded(n, ts, firstRefused(outcome.value)?.message);
      },
    });
    this.scheduler.start();
  }

  async stop(): Promise<void> {
    await this.scheduler?.stop();
    this.scheduler = undefined;
    if (this.link) await releaseLink(this.link);
    this.link = undefined;
    this.tracker.set('stopped');
  }

  status(): DriverStatus {
    return this.tracker.status();
  }
}
