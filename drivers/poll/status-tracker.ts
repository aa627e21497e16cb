// A driver's DriverStatus, kept up to date from poll outcomes, and reported to the runtime only when
// the state changes (not on every poll).
import type { DriverContext, DriverState, DriverStatus } from '../../kernel/source.ts';
import type { PollHealth } from './scheduler.ts';

export class StatusTracker {
  private state: DriverState = 'stopped';
  private detail: string | undefined;
  private readings = 0;
  private errors = 0;
  private lastReadingAt: number | undefined;

  private readonly id: string;
  private readonly kind: string;
  private readonly ctx: Pick<DriverContext, 'statusChanged' | 'log'>;

  constructor(
    id: string,
    kind: string,
    ctx: Pick<DriverContext, 'statusChanged' | 'log'>,
  ) {
    this.id = id;
    this.kind = kind;
    this.ctx = ctx;
  }

  set(state: DriverState, detail?: string): void {
    if (state === this.state && detail === this.detail) return;
    const changed = state !== this.state;
    this.state = state;
    this.detail = detail;
    if (changed) {
      // the runtime's child logger already names the driver
      if (state === 'degraded' || state === 'down') this.ctx.log.warn({ state, detail }, 'driver state changed');
      else this.ctx.log.debug({ state }, 'driver state changed');
      this.ctx.statusChanged?.(this.status());
    }
  }

  /** A poll worked and produced `count` readings at `ts`; `partly` says what part of it did not. */
  succeeded(count: number, ts: number, partly?: string): void {
    this.readings += count;
    this.lastReadingAt = ts;
    if (partly) this.set('degraded', partly);
    else this.set('ok');
  }

  /** A poll failed (after its retries); `count` flagged null readings were emitted for it. */
  failed(count: number, message: string, health: PollHealth): void {
    this.errors++;
    this.readings += count;
    this.set(health.down ? 'down' : 'degraded', message);
  }

  get current(): DriverState {
    return this.state;
  }

  status(): DriverStatus {
    return {
      id: this.id,
      kind: this.kind,
      state: this.state,
      ...(this.detail !== undefined ? { detail: this.detail } : {}),
      ...(this.lastReadingAt !== undefined ? { lastReadingAt: this.lastReadingAt } : {}),
      readings: this.readings,
      errors: this.errors,
    };
  }
}
