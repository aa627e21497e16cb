// The ION7550 driver: reads the configured register map over Modbus TCP or RTU, as few requests as
// the map allows, and emits one reading per mapped register per poll. With a monitoring plan
// (`mrv:`) it journals the plan at start, and follows the plan's export and import registers where
// the raw register is known: each reading of them carries the register's width and scale as meta,
// and a step that is a rollover, a wrap, a reset or an implausible jump is flagged on the reading
// that shows it. From the kWh-delivered counter it derives the energy of each interval. A failed
// poll emits every mapped metric with value null and the failure's flag; a block the meter refuses
// with a Modbus exception fails alone.
import type { JsonValue } from '../../protocol/canonical.ts';
import { ACCURACY_CLASS_MPE_PERCENT } from '../../protocol/plan.ts';
import type { ReadingInput } from '../../protocol/records.ts';
import { counter } from '../../kernel/metrics.ts';
import { PollMetrics } from '../poll/poll-metrics.ts';
import { ReadError } from '../poll/errors.ts';
import { PollScheduler, type PollHealth, type PollOutcome } from '../poll/scheduler.ts';
import { StatusTracker } from '../poll/status-tracker.ts';
import { assessQuality, failedQuality, type QualityInputs } from '../quality.ts';
import type { Driver, DriverContext, DriverStatus } from '../../kernel/source.ts';
import type { Ion7550DriverConfig } from './config.ts';
import { counterSpec, EnergyCounter, STEP_FLAGS, type EnergyStep } from './energy.ts';
import { acquireLink, releaseLink, type ModbusLink, type ModbusTarget } from './modbus-link.ts';
import { meterPlan, readWindowMs } from './meter-plan.ts';
import { decodeRaw, planBlocks, scaled, type RegisterBlock, type RegisterEntry } from './register-map.ts';

/** A counter register followed poll by poll: the plan's export and import, and the energy counter. */
interface TrackedCounter {
  counter: EnergyCounter;
  /** the register's width and scale, carried on plan registers' readings for the sink to check */
  meta: { [key: string]: JsonValue } | undefined;
}

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
  private readonly counterEntry: RegisterEntry | undefined;
  private readonly tracked = new Map<RegisterEntry, TrackedCounter>();
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
    const plan = config.mrv;
    const mpe = plan ? ACCURACY_CLASS_MPE_PERCENT[plan.accuracyClass] : 0;
    const planned = plan ? [plan.export, plan.import] : [];
    for (const e of config.registers) {
      if (e !== this.counterEntry && !planned.includes(e.metric)) continue;
      const spec = counterSpec(e, e === this.counterEntry ? config.energy.rolloverKwh : undefined);
      const meta = planned.includes(e.metric) ? { register: { bits: spec.bits, scale: spec.scale, signed: spec.signed, type: spec.type } } : undefined;
      this.tracked.set(e, { counter: new EnergyCounter(spec, plan?.ratedKw, mpe, readWindowMs(config)), meta });
    }
  }

  /** the counter registers followed across polls (and across restarts, from the journal) */
  get trackedMetrics(): string[] {
    return [...this.tracked.keys()].map((e) => e.metric);
  }

  /** See EnergyCounter.resumeFrom. */
  resume(metric: string, value: number, ts: number): void {
    for (const [e, t] of this.tracked) if (e.metric === metric) t.counter.resumeFrom(value, ts);
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
        const tracked = this.tracked.get(entry);
        if (!tracked) {
          emit({ sensor, metric: entry.metric, ts, value, unit: entry.unit, quality: assessQuality(qi) });
          continue;
        }
        const step = tracked.counter.next(value, ts);
        const extra = step.kind === 'first' || step.kind === 'normal' ? undefined : [STEP_FLAGS[step.kind]];
        const quality = assessQuality(extra ? { ...qi, extra } : qi);
        emit({ sensor, metric: entry.metric, ts, value, unit: entry.unit, quality, ...(tracked.meta ? { meta: tracked.meta } : {}) });
        if (entry === this.counterEntry && step.kind !== 'first') n += this.energyReadings(step, ts, retries, emit);
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

  private energyReadings(step: Exclude<EnergyStep, { kind: 'first' }>, ts: number, retries: number, emit: (r: ReadingInput) => void): number {
    const extra = step.kind === 'normal' ? undefined : [STEP_FLAGS[step.kind]];
    const quality = assessQuality({ now: ts, value: step.kwh, retries, ...(extra ? { extra } : {}) });
    const meta = { since: step.since };
    const sensor = this.config.id;
    emit({ sensor, metric: ENERGY_INTERVAL_METRIC, ts, value: step.kwh, unit: 'kWh', quality, meta });
    const factor = this.config.energy.emissionFactorKgPerKwh;
    if (factor === undefined) return 1;
    const kg = Math.round(step.kwh * factor * 1e6) / 1e6;
    // a live estimate for the dashboard, labelled as such: MRV reports never read it
    emit({ sensor, metric: AVOIDED_CO2E_METRIC, ts, value: kg, unit: 'kg', quality: { score: quality.score, flags: quality.flags.slice() }, meta: { since: step.since, emissionFactorKgPerKwh: factor, estimate: 'device' } });
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
    for (const metric of decoder.trackedMetrics) {
      const resumed = ctx.lastDurable?.(config.id, metric);
      if (!resumed) continue;
      decoder.resume(metric, resumed.value, resumed.ts);
      ctx.log.info({ metric, value: resumed.value, ts: resumed.ts }, 'energy register resumed from the journal');
    }
    // The plan goes into the journal before the first reading it covers.
    const plan = meterPlan(config, Date.now());
    if (plan) ctx.declarePlan?.(plan);
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
        // a read is stamped when the answer arrived: the meter sampled the registers just before,
        // which places energy at the period's edges better than the poll's start would
        const ts = outcome.ok ? outcome.startedAt + outcome.durationMs : outcome.startedAt;
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
