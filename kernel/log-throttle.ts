// Bad input can arrive thousands of times a second (a broken forwarder, a scan, a fuzzer, a flood
// of made-up gateway EUIs): every instance is counted in a metric, but the log gets one line per
// reason per interval with the number held back since, so that a flood cannot fill the disk or
// drown the other lines (`burst` lines per interval where the first few all matter). Callers pass
// reasons from a fixed set (never a value from the datagram), which keeps this map small.
import type { Logger } from 'pino';

export class ThrottledWarn {
  private readonly windows = new Map<string, { start: number; written: number; suppressed: number }>();

  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly now: () => number;
  /** lines per reason per interval */
  private readonly burst: number;

  constructor(
    log: Logger,
    intervalMs = 10_000,
    now: () => number = Date.now,
    burst = 1,
  ) {
    this.log = log;
    this.intervalMs = intervalMs;
    this.now = now;
    this.burst = burst;
  }

  warn(reason: string, fields: Record<string, unknown>, msg: string): void {
    this.write('warn', reason, fields, msg);
  }

  /** For news that is normally rare and welcome (a new gateway) but could come as a flood. */
  info(reason: string, fields: Record<string, unknown>, msg: string): void {
    this.write('info', reason, fields, msg);
  }

  private write(level: 'warn' | 'info', reason: string, fields: Record<string, unknown>, msg: string): void {
    const t = this.now();
    let w = this.windows.get(reason);
    if (!w || t - w.start >= this.intervalMs) {
      // A new interval: its first line says how many the last one held back.
      w = { start: t, written: 0, suppressed: w?.suppressed ?? 0 };
      this.windows.set(reason, w);
    }
    if (w.written >= this.burst) {
      w.suppressed++;
      return;
    }
    w.written++;
    const suppressed = w.suppressed;
    w.suppressed = 0;
    this.log[level]({ ...fields, reason, ...(suppressed ? { suppressedSinceLast: suppressed } : {}) }, msg);
  }
}
