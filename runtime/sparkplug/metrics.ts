// The Sparkplug publisher's figures on /metrics.
import type { Registry } from 'prom-client';
import { counter, gauge } from '../../kernel/metrics.ts';

export function sparkplugMetrics(registry: Registry) {
  return {
    published: counter(registry, 'fieldproof_sparkplug_published_total', 'Sparkplug messages the broker has', ['type']),
    failed: counter(registry, 'fieldproof_sparkplug_failed_total', 'Sparkplug publishes lost with their connection (sent again from the journal)'),
    connected: gauge(registry, 'fieldproof_sparkplug_connected', '1 while connected to the Sparkplug broker'),
    rebirths: counter(registry, 'fieldproof_sparkplug_rebirths_total', 'rebirths requested by NCMD'),
    badCommands: counter(registry, 'fieldproof_sparkplug_bad_commands_total', 'NCMD messages that did not decode'),
    replayed: counter(registry, 'fieldproof_sparkplug_replayed_total', 'records sent from the journal as historical after an outage'),
    missed: counter(registry, 'fieldproof_sparkplug_missed_total', 'records gone from the journal before they could be published (disk_full: dropped by its disk bound; not_in_journal: deleted before this publisher held them)', ['reason']),
    behind: gauge(registry, 'fieldproof_sparkplug_behind_records', 'journal records not yet published'),
  };
}

export type SparkplugMetrics = ReturnType<typeof sparkplugMetrics>;
