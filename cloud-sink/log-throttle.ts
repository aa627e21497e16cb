// Refusals are logged, but a flood of junk must not become a flood of log lines (each one costs
// CPU and disk): at most one line a second per reason, the lines held back counted in the next.
import type { Logger } from 'pino';

export class LogThrottle {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(private readonly log: Logger, private readonly intervalMs = 1000) {}

  warn(reason: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const st = this.last.get(reason);
    if (st && now - st.at < this.intervalMs) {
      st.held++;
      return;
    }
    this.log.warn({ reason, ...fields, ...(st?.held ? { heldBack: st.held } : {}) }, msg);
    this.last.set(reason, { at: now, held: 0 });
  }
}
