// The cloud telemetry targets' figures on /metrics, each labelled with its target (aws-iot, azure-iot-hub).
import type { Registry } from 'prom-client';
import { counter, gauge } from '../../kernel/metrics.ts';

export function cloudTelemetryMetrics(registry: Registry) {
  return {
    published: counter(registry, 'fieldproof_cloud_telemetry_published_total', 'telemetry messages sent (QoS 1)', ['target']),
    acknowledged: counter(registry, 'fieldproof_cloud_telemetry_acknowledged_total', 'journal records in messages the platform acknowledged (PUBACK)', ['target']),
    replayed: counter(registry, 'fieldproof_cloud_telemetry_replayed_total', 'records sent from the journal after an outage or restart', ['target']),
    backlog: gauge(registry, 'fieldproof_cloud_telemetry_backlog_records', 'journal records the platform does not have yet', ['target']),
    connected: gauge(registry, 'fieldproof_cloud_telemetry_connected', '1 while connected to the platform', ['target']),
    reconnects: counter(registry, 'fieldproof_cloud_telemetry_reconnects_total', 'connections made after the first (outages, credential renewals)', ['target']),
    errors: counter(registry, 'fieldproof_cloud_telemetry_errors_total', 'connection failures, lost publishes, records that cannot be sent and records the journal lost before the platform had them', ['target', 'reason']),
  };
}

export type CloudTelemetryMetrics = ReturnType<typeof cloudTelemetryMetrics>;
