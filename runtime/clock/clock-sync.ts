// The device clock's sync state for every sealed batch header, kept off the hot path: read at
// start and refreshed in the background at most every `refreshMs` (60 s), so that sealing only
// reads a cached value and never waits for a subprocess. The source is injected (tests drive it;
// the daemon gives os-clock.ts).
import type { Logger } from 'pino';
import type { ClockState } from '../../protocol/batch.ts';

export interface ClockSyncDeps {
  /** asks the OS (or a test) once; must not throw, and should bound its own time */
  read: () => Promise<ClockState>;
  refreshMs?: number;
  log: Logger;
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
  }
}
