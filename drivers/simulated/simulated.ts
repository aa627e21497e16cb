// A driver for sensors that do not exist: realistic signals on a timer, for the demo, the tests
// and the benchmarks.
import type { Driver, DriverContext, DriverStatus } from '../../kernel/source.ts';
import type { SimulatedDriverConfig } from './config.ts';
import { SIGNAL_UNITS, SimulatedSignal } from './signal.ts';

export class SimulatedDriver implements Driver {
  readonly kind = 'simulated';
  private timer: NodeJS.Timeout | undefined;
  private signals: { sensor: string; signal: SimulatedSignal }[] = [];
  private state: DriverStatus['state'] = 'stopped';
  private readings = 0;
  private lastReadingAt: number | undefined;

  private readonly config: SimulatedDriverConfig;
  private readonly ctx: DriverContext;

  constructor(
    config: SimulatedDriverConfig,
    ctx: DriverContext,
  ) {
    this.config = config;
    this.ctx = ctx;
  }

  get id(): string {
    return this.config.id;
  }

  async start(): Promise<void> {
    const seed = this.config.seed ?? Date.now();
    this.signals = [];
    for (let i = 1; i <= this.config.sensors; i++) {
      const faults = this.config.faults.filter((f) => !f.sensors || f.sensors.includes(i));
      this.signals.push({ sensor: `${this.config.id}-${i}`, signal: new SimulatedSignal(this.config.signal, seed * 7919 + i, faults) });
    }
    this.state = 'ok';
    this.timer = setInterval(() => this.tick(), this.config.intervalMs);
    this.ctx.statusChanged?.(this.status());
  }

  private tick(): void {
    const ts = Date.now();
    const { metric, unit } = SIGNAL_UNITS[this.config.signal];
    for (const { sensor, signal } of this.signals) {
      const value = signal.next(ts);
      this.ctx.emit({
        sensor,
        metric,
        ts,
        value,
        unit,
        quality: value === null ? { score: 0, flags: ['no_response'] } : { score: 1, flags: [] },
      });
    }
    this.readings += this.signals.length;
    this.lastReadingAt = ts;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.state = 'stopped';
    this.ctx.statusChanged?.(this.status());
  }

  status(): DriverStatus {
    return {
      id: this.id,
      kind: this.kind,
      state: this.state,
      readings: this.readings,
      errors: 0,
      ...(this.lastReadingAt !== undefined ? { lastReadingAt: this.lastReadingAt } : {}),
    };
  }
}
