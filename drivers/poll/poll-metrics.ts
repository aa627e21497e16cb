// Per-driver poll figures on the daemon's registry: polls by outcome and poll duration. Label
// children are looked up once per outcome kind, so counting a poll allocates nothing.
import type { Counter, Histogram, Registry } from 'prom-client';
import { counter, histogram } from '../../kernel/metrics.ts';
import type { PollOutcome } from './scheduler.ts';

type CounterChild = ReturnType<Counter<'driver' | 'outcome'>['labels']>;
type HistogramChild = ReturnType<Histogram<'driver'>['labels']>;

export class PollMetrics {
  private readonly polls: Counter<'driver' | 'outcome'>;
  private readonly byOutcome = new Map<string, CounterChild>();
  private readonly seconds: HistogramChild;

  private readonly driver: string;

  constructor(
    registry: Registry,
    driver: string,
  ) {
    this.driver = driver;
    this.polls = counter(registry, 'fieldproof_driver_polls_total', 'Device polls by outcome: ok, retried, or the failure flag', ['driver', 'outcome']);
    this.seconds = histogram(registry, 'fieldproof_driver_poll_seconds', 'Time from the start of a poll to its outcome, retries included', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], ['driver']).labels({ driver });
  }

  record(outcome: PollOutcome<unknown>): void {
    const kind = outcome.ok ? (outcome.attempts > 1 ? 'retried' : 'ok') : outcome.error.flag;
    let child = this.byOutcome.get(kind);
    if (!child) {
      child = this.polls.labels({ driver: this.driver, outcome: kind });
      this.byOutcome.set(kind, child);
    }
    child.inc();
    this.seconds.observe(outcome.durationMs / 1000);
  }
}
