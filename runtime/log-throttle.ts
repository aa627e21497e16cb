// Bad input can arrive thousands of times a second (a broken forwarder, a scan, a fuzzer): every
// instance is counted in a metric, but the log gets one line per reason per interval with the
// number held back since, so that a flood cannot fill the disk or drown the other lines.
import type { Logger } from 'pino';

export class ThrottledWarn {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(reason: string, fields: Record<string, unknown>, msg: string): void {
    const t = this.now();
    const entry = this.last.get(reason);
    if (entry && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(reason, { at: t, suppressed: 0 });
    this.log.warn({ ...fields, reason, ...(suppressed ? { suppressedSinceLast: suppressed } : {}) }, msg);
  }
}
