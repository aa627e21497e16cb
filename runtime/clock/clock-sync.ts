// The device clock's sync state for every sealed batch header, kept off the hot path: read at
// start and refreshed in the background at most every `refreshMs` (60 s), so that sealing only
// reads a cached value and never waits for a subprocess. The source is injected (tests drive it;
// the daemon gives os-clock.ts).
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ClockState } from '../../protocol/batch.ts';
import { gauge } from '../../kernel/metrics.ts';

export interface ClockSyncDeps {
  /** asks the OS (or a test) once; must not throw, and should bound its own time */
  read: () => Promise<ClockState>;
  refreshMs?: number;
  log: Logger;
  /** where the state is published: fieldproof_clock_synced{source}, fieldproof_clock_offset_seconds */
  metrics?: Registry;
}

const UNKNOWN: ClockState = { synced: false, source: 'unknown' };

export class ClockSync {
  readonly name = 'clock';
  private state: ClockState = UNKNOWN;
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  private running = false;
  private readonly deps: ClockSyncDeps;

  constructor(deps: ClockSyncDeps) {
    this.deps = deps;
  }

  /** The last state read ("unknown", not synchronised, before the first read has answered). */
  current(): ClockState {
    return this.state;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.deps.refreshMs ?? 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.reading;
  }

  /** One read at a time: a slow source is not asked again while it has not answered. */
  refresh(): Promise<void> {
    this.reading ??= this.readOnce().finally(() => (this.reading = null));
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    let next: ClockState;
    try {
      next = await this.deps.read();
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'cannot read the clock sync state; batches say "unknown"');
      next = UNKNOWN;
    }
    if (!this.running) return;
    if (next.synced !== this.state.synced || next.source !== this.state.source) {
      const log = next.synced ? this.deps.log.info.bind(this.deps.log) : this.deps.log.warn.bind(this.deps.log);
      log({ clock: next }, next.synced ? 'the device clock is synchronised' : 'the device clock is not synchronised; batch headers say so');
    }
    this.state = next;
    this.publish(next);
  }

  private publish(s: ClockState): void {
    const reg = this.deps.metrics;
    if (!reg) return;
    const synced = gauge(reg, 'fieldproof_clock_synced', 'Whether the OS says the device clock is synchronised (1) or not (0), by the time daemon that answered', ['source']);
    synced.reset();
    synced.set({ source: s.source }, s.synced ? 1 : 0);
    const offset = gauge(reg, 'fieldproof_clock_offset_seconds', 'The device clock\'s offset from its time daemon\'s reference, positive when ahead (NaN where not reported)');
    offset.set(s.offsetMs === undefined ? Number.NaN : s.offsetMs / 1000);
  }
}
