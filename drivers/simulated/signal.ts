// Deterministic synthetic sensor signals: a daily cycle, noise, and the faults real sensors show.
// Pure functions of (seed, time); the driver, the tests and the benchmarks share them.
import type { SimulatedFault } from './config.ts';
import { prng } from '../../kernel/prng.ts';

export type SignalKind = 'co2' | 'power' | 'temperature';

export const SIGNAL_UNITS: Record<SignalKind, { metric: string; unit: string }> = {
  co2: { metric: 'co2_ppm', unit: 'ppm' },
  power: { metric: 'power_kw', unit: 'kW' },
  temperature: { metric: 'temperature_c', unit: 'degC' },
};

const DAY_MS = 86_400_000;

/** Hour of day in [0, 24), UTC. */
function hourOfDay(ts: number): number {
  return ((ts % DAY_MS) + DAY_MS) % DAY_MS / 3_600_000;
}

/** The clean signal at time ts: what a healthy sensor would read, before noise. */
export function baseline(kind: SignalKind, ts: number, phase = 0): number {
  const h = (hourOfDay(ts) + phase + 24) % 24;
  switch (kind) {
    case 'co2': {
      // Outdoor ~420 ppm; an occupied room climbs during working hours.
      const occupied = h >= 8 && h < 18 ? Math.sin(((h - 8) / 10) * Math.PI) : 0;
      return 420 + 480 * occupied;
    }
    case 'power': {
      // A 100 kW PV array: a half-sine between 06:00 and 18:00, nothing at night.
      return h >= 6 && h < 18 ? 100 * Math.sin(((h - 6) / 12) * Math.PI) : 0;
    }
    case 'temperature':
      // Coolest before dawn, warmest mid-afternoon.
      return 18 + 7 * Math.sin(((h - 9) / 24) * 2 * Math.PI);
  }
}

const NOISE: Record<SignalKind, number> = { co2: 8, power: 1.5, temperature: 0.15 };

interface ActiveFault {
  fault: SimulatedFault;
  remaining: number;
  stuckAt?: number | null;
  drift: number;
}

/** One simulated sensor: baseline + noise + whatever faults are active. */
export class SimulatedSignal {
  private readonly rand: () => number;
  private readonly phase: number;
  private active: ActiveFault[] = [];
  private driftTotal = 0;
  private last: number | null = null;

  readonly kind: SignalKind;
  private readonly faults: readonly SimulatedFault[];

  constructor(
    kind: SignalKind,
    seed: number,
    faults: readonly SimulatedFault[] = [],
  ) {
    this.kind = kind;
    this.faults = faults;
    this.rand = prng(seed);
    this.phase = (this.rand() - 0.5) * 2; // sensors differ by up to an hour
  }

  /** Gaussian noise by Box-Muller. */
  private gaussian(): number {
    const u = 1 - this.rand();
    const v = this.rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** The reading at ts, or null during a dropout (the sensor did not answer). */
  next(ts: number): number | null {
    let value = baseline(this.kind, ts, this.phase) + this.gaussian() * NOISE[this.kind];
    if (this.kind === 'power') value = Math.max(0, value);

    for (const fault of this.faults) {
      if (this.rand() < fault.rate && !this.active.some((a) => a.fault === fault)) {
        this.active.push({ fault, remaining: fault.kind === 'spike' ? 1 : fault.length, stuckAt: this.last, drift: 0 });
      }
    }
    let result: number | null = value;
    for (const a of this.active) {
      switch (a.fault.kind) {
        case 'spike':
          result = result === null ? null : result + (a.fault.magnitude || 10 * NOISE[this.kind] * 5);
          break;
        case 'stuck':
          result = a.stuckAt ?? result;
          break;
        case 'drift':
          // drift accumulates for the fault's length and then stays: a sensor that lost calibration
          this.driftTotal += a.fault.magnitude || NOISE[this.kind] * 0.1;
          break;
        case 'dropout':
          result = null;
          break;
      }
      a.remaining--;
    }
    this.active = this.active.filter((a) => a.remaining > 0);
    if (result !== null) result = Math.round((result + this.driftTotal) * 100) / 100;
    this.last = result;
    return result;
  }
}
