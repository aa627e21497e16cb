// The contract between the runtime and every source of readings (drivers and the LoRaWAN gateway).
// A driver knows nothing of the journal: it emits readings and reports its state; the runtime
// validates, journals and publishes them.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { PlanInput } from '../protocol/plan.ts';
import type { ReadingInput } from '../protocol/records.ts';

export type DriverState = 'starting' | 'ok' | 'degraded' | 'down' | 'stopped';

export interface DriverStatus {
  id: string;
  kind: string;
  state: DriverState;
  /** why the state is what it is, one line, when it is not ok */
  detail?: string;
  lastReadingAt?: number;
  readings: number;
  errors: number;
}

export interface DriverContext {
  /** Hand one reading to the pipeline. Never throws; the pipeline applies backpressure itself. */
  emit(reading: ReadingInput): void;
  /**
   * Hand the runtime a meter's monitoring plan, before the first reading it covers: the runtime
   * journals it as a signed plan record. Absent outside a daemon.
   */
  declarePlan?(plan: PlanInput): void;
  /** Tell the runtime the driver's state changed (shown on the dashboard, published as status). */
  statusChanged?(status: DriverStatus): void;
  log: Logger;
  metrics: Registry;
  /**
   * The value of `sensor`'s `metric` in the last record the journal kept, carried across restarts
   * and power cuts; from this call on the journal keeps it up to date. Absent outside a daemon.
   */
  lastDurable?(sensor: string, metric: string): { value: number; ts: number } | undefined;
}

export interface Driver {
  readonly id: string;
  readonly kind: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): DriverStatus;
}
