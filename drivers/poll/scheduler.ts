// Polls devices on their own clocks. Every job has its own timer and its own request in flight, so a
// device that hangs costs its own job a timeout and nobody else anything. A request that outlives its
// timeout is abandoned (the job's onTimeout resets the line), retried with backoff, and a job that
// keeps failing keeps being polled, more slowly, so the device is picked up again by itself when it
// answers: no restart, no stuck poller.
import { asReadError, ReadError, TimeoutError } from './errors.ts';

export interface PollTiming {
  /** time between the starts of two polls */
  intervalMs: number;
  /** longest one request may take */
  timeoutMs: number;
  /** extra attempts within one poll after a failed one */
  retries: number;
  /** wait before the first retry; doubles for each further retry */
  retryBackoffMs: number;
  /** after this many failed polls in a row the device counts as down */
  downAfter: number;
  /** while down, the interval doubles per failed poll up to this */
  downIntervalMaxMs: number;
}

export const DEFAULT_TIMING: PollTiming = {
  intervalMs: 1000,
  timeoutMs: 1000,
  retries: 2,
  retryBackoffMs: 100,
  downAfter: 3,
  downIntervalMaxMs: 30_000,
};

export type PollOutcome<T> =
  | { ok: true; value: T; attempts: number; startedAt: number; durationMs: number }
  | { ok: false; error: ReadError; attempts: number; startedAt: number; durationMs: number };

export interface PollJob<T> {
  readonly name: string;
  readonly timing: PollTiming;
  /** One request to the device. Should honour timing.timeoutMs itself; the scheduler also enforces it. */
  attempt(): Promise<T>;
  /** After a timeout or a broken line: flush, reconnect, reopen. Called before the next attempt. */
  recover?(error: ReadError): Promise<void>;
  /** Every poll ends here exactly once, success or failure. */
  onOutcome(outcome: PollOutcome<T>, health: PollHealth): void;
}

/** What the scheduler knows of a job's device between polls. */
export interface PollHealth {
  consecutiveFailures: number;
  down: boolean;
  polls: number;
  failures: number;
}

const sleep = (ms: number, timers: Set<NodeJS.Timeout>) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      timers.delete(t);
      resolve();
    }, ms);
    timers.add(t);
  });

/** One job's loop: its own timer, never more than one request in flight. */
class PollLoop<T> {
  readonly health: PollHealth = { consecutiveFailures: 0, down: false, polls: 0, failures: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private current: Promise<void> | undefined;
  private nextAt = 0;
  private readonly sleeps = new Set<NodeJS.Timeout>();
  private needsRecovery: ReadError | undefined;

  readonly job: PollJob<T>;

  constructor(job: PollJob<T>) {
    this.job = job;
  }

  start(firstDelayMs: number): void {
    this.running = true;
    this.nextAt = Date.now() + firstDelayMs;
    this.timer = setTimeout(() => this.tick(), firstDelayMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const t of this.sleeps) clearTimeout(t);
    this.sleeps.clear();
    await this.current;
    if (this.guard) clearTimeout(this.guard);
    this.guard = undefined;
  }

  private tick(): void {
    this.timer = undefined;
    if (!this.running) return;
    this.current = this.poll().finally(() => {
      this.current = undefined;
      this.schedule();
    });
  }

  private schedule(): void {
    if (!this.running) return;
    const { intervalMs, downAfter, downIntervalMaxMs } = this.job.timing;
    let step = intervalMs;
    if (this.health.down) {
      const extra = Math.min(16, this.health.consecutiveFailures - downAfter);
      step = Math.max(intervalMs, Math.min(downIntervalMaxMs, intervalMs * 2 ** extra));
    }
    const now = Date.now();
    this.nextAt += step;
    // A poll that overran its slot skips the missed ticks instead of bunching them up.
    if (this.nextAt <= now) this.nextAt = now + step - ((now - this.nextAt) % step);
    this.timer = setTimeout(() => this.tick(), this.nextAt - now);
  }

  private async poll(): Promise<void> {
    const { timing } = this.job;
    const startedAt = Date.now();
    let attempts = 0;
    let error: ReadError | undefined;
    while (this.running) {
      if (this.needsRecovery && this.job.recover) {
        const why = this.needsRecovery;
        this.needsRecovery = undefined;
        try {
          await this.job.recover(why);
        } catch (err) {
          // could not reopen or reconnect: this attempt fails the same way, and we try again next time
          this.needsRecovery = asReadError(err);
        }
      }
      attempts++;
      try {
        const value = await this.withTimeout(this.job.attempt(), timing.timeoutMs);
        this.health.polls++;
        this.health.consecutiveFailures = 0;
        this.health.down = false;
        this.job.onOutcome({ ok: true, value, attempts, startedAt, durationMs: Date.now() - startedAt }, this.health);
        return;
      } catch (err) {
        error = asReadError(err);
        if (error.flag !== 'modbus_exception' && error.flag !== 'bad_value') this.needsRecovery = error;
      }
      if (!error.retryable || attempts > timing.retries || !this.running) break;
      await sleep(timing.retryBackoffMs * 2 ** (attempts - 1), this.sleeps);
    }
    if (!this.running && !error) return;
    this.health.polls++;
    this.health.failures++;
    this.health.consecutiveFailures++;
    if (this.health.consecutiveFailures >= timing.downAfter) this.health.down = true;
    this.job.onOutcome({ ok: false, error: error ?? new ReadError('stopped', 'stopped'), attempts, startedAt, durationMs: Date.now() - startedAt }, this.health);
  }

  /**
   * The request's own timeout should fire first; this one only guards against a request that never
   * settles. One timer per loop, re-armed with refresh() (never cleared: a cleared timer cannot be
   * refreshed; one that fires with nothing pending does nothing).
   */
  private guard: NodeJS.Timeout | undefined;
  private guardReject: ((err: Error) => void) | undefined;

  private withTimeout(p: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.guardReject = reject;
      if (this.guard) this.guard.refresh();
      else this.guard = setTimeout(() => this.guardFired(ms), ms + 50);
      p.then(
        (v) => {
          this.guardReject = undefined;
          resolve(v);
        },
        (e) => {
          this.guardReject = undefined;
          reject(e);
        },
      );
    });
  }

  private guardFired(ms: number): void {
    const reject = this.guardReject;
    this.guardReject = undefined;
    reject?.(new TimeoutError(`no answer within ${ms} ms`));
  }
}

/**
 * Runs poll jobs side by side. Jobs added before start() begin together, spread over the first
 * interval so that fifty meters on one interval do not all ask in the same millisecond.
 */
export class PollScheduler {
  private readonly loops: PollLoop<unknown>[] = [];
  private started = false;

  add<T>(job: PollJob<T>): PollHealth {
    const loop = new PollLoop(job);
    this.loops.push(loop as PollLoop<unknown>);
    if (this.started) loop.start(0);
    return loop.health;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const n = this.loops.length;
    this.loops.forEach((loop, i) => loop.start(n > 1 ? Math.floor((loop.job.timing.intervalMs * i) / n) : 0));
  }

  /** Stops every job; resolves once no request is in flight any more. */
  async stop(): Promise<void> {
    this.started = false;
    await Promise.all(this.loops.map((l) => l.stop()));
  }

  /** Remove all jobs (after stop), so the scheduler can be filled again. */
  clear(): void {
    this.loops.length = 0;
  }
}
