// The journal's figures on the daemon's registry, shared by its parts.
import type { Registry } from 'prom-client';
import { counter, gauge, histogram } from '../../kernel/metrics.ts';

export function journalMetrics(reg: Registry) {
  return {
    committed: counter(reg, 'fieldproof_journal_records_total', 'Records made durable in the journal'),
    commits: counter(reg, 'fieldproof_journal_commits_total', 'Synced group commits'),
    commitSeconds: histogram(reg, 'fieldproof_journal_commit_seconds', 'Time from a commit starting to its sync returning',
      [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1]),
    sealed: counter(reg, 'fieldproof_journal_batches_sealed_total', 'Batches sealed and signed'),
    dropped: counter(reg, 'fieldproof_journal_dropped_readings_total', 'Readings dropped under the disk bound or by a failed write', ['reason']),
    holdLost: counter(reg, 'fieldproof_journal_hold_lost_records_total', 'Records the disk bound dropped before the publisher holding them had them (the sink has them)', ['hold']),
    held: gauge(reg, 'fieldproof_journal_held_records', 'Records the sink has that the journal keeps for a publisher'),
    writeErrors: counter(reg, 'fieldproof_journal_write_errors_total', 'LevelDB writes that failed'),
    bytes: gauge(reg, 'fieldproof_journal_bytes', 'Logical bytes held by the journal'),
    unsent: gauge(reg, 'fieldproof_journal_unsent_records', 'Records not yet acknowledged by a sink'),
    lastSeq: gauge(reg, 'fieldproof_journal_last_seq', 'Last seq made durable'),
  };
}

export type JournalMetrics = ReturnType<typeof journalMetrics>;
