// The alerts part of the daemon: derives alerts from committed records' quality flags (and from
// silent streams and failing sources), keeps the active ones on the status board under `alerts`,
// announces each raise or clear as `alertEvent` on the board and on `events` (the dashboard's
// WebSocket feed is built on these), and sends them over MQTT and to a webhook.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DriverStatus } from '../../kernel/source.ts';
import type { JournalRecord } from '../../protocol/records.ts';
import type { Component, StatusBoard } from '../../kernel/component.ts';
import { counter, gauge } from '../../kernel/metrics.ts';
import type { AlertsConfig } from './config.ts';
import { AlertEngine, type AlertEvent } from './engine.ts';
import { AlertHistory } from './history.ts';
import type { MqttAlertPublisher } from './mqtt-publisher.ts';
import type { WebhookNotifier } from './webhook.ts';

interface StreamSeen {
  sensor: string;
  metric: string;
  lastArrival: number;
  interval: number;
  arrivals: number;
}

export interface AlertsDeps {
  config: AlertsConfig;
  device: string;
  /** where the alert history is kept */
  dataDir: string;
  log: Logger;
  metrics: Registry;
  board: StatusBoard;
  onCommitted(listener: (records: readonly JournalRecord[]) => void): void;
  sourceStatuses(): DriverStatus[];
}

export class AlertsComponent implements Component {
  readonly name = 'alerts';
  /** 'alert' events: AlertEvent, in the order they happened */
  readonly events = new EventEmitter<{ alert: [AlertEvent] }>();
  readonly engine: AlertEngine;
  /** every alert raised and when it cleared, across restarts: what the page's history shows */
  readonly history: AlertHistory;
  private mqtt: MqttAlertPublisher | null = null;
  private webhook: WebhookNotifier | null = null;
  private timer: NodeJS.Timeout | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private running = false;
  private readonly streams = new Map<string, StreamSeen>();
  private readonly m;

  private readonly deps: AlertsDeps;

  constructor(deps: AlertsDeps) {
    this.deps = deps;
    this.engine = new AlertEngine(deps.config);
    this.history = new AlertHistory({ dataDir: deps.dataDir, max: deps.config.historySize, log: deps.log });
    this.m = {
      events: counter(deps.metrics, 'fieldproof_alerts_events_total', 'Alerts raised and cleared', ['type', 'severity']),
      active: gauge(deps.metrics, 'fieldproof_alerts_active', 'Active alerts'),
    };
  }

  async start(): Promise<void> {
    const { config, device, log, metrics } = this.deps;
    await this.history.load();
    // Each channel's client (mqtt, undici) is imported only when the config uses that channel.
    if (config.mqtt) {
      const { MqttAlertPublisher } = await import('./mqtt-publisher.ts');
      this.mqtt = new MqttAlertPublisher(config.mqtt, device, log.child({ part: 'mqtt' }), metrics);
      await this.mqtt.start(() => this.statusBody());
    }
    if (config.webhook) {
      const { WebhookNotifier } = await import('./webhook.ts');
      this.webhook = new WebhookNotifier(config.webhook, device, log.child({ part: 'webhook' }), metrics);
      await this.webhook.start();
    }
    this.running = true;
    this.deps.board.set('alerts', []);
    this.deps.onCommitted((records) => this.onRecords(records));
    // The uplink stopped for good (an equivocation, a wrong key): an alert until an operator acts.
    this.onUplinkHalted(this.deps.board.get('uplink.halted'));
    this.deps.board.onChange((key, value) => {
      if (key === 'uplink.halted') this.onUplinkHalted(value);
    });
    this.timer = setInterval(() => this.checkConditions(), config.checkMs);
    this.timer.unref();
    this.statusTimer = setInterval(() => this.mqtt?.publishStatus(this.statusBody()), 60_000);
    this.statusTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    if (this.statusTimer) clearInterval(this.statusTimer);
    await this.webhook?.stop();
    await this.mqtt?.stop();
    await this.history.flush();
  }

  private statusBody(): Record<string, unknown> {
    return { ts: Date.now(), activeAlerts: this.engine.activeAlerts().length, sources: this.deps.sourceStatuses().map((s) => ({ id: s.id, kind: s.kind, state: s.state })) };
  }

  private onRecords(records: readonly JournalRecord[]): void {
    if (!this.running) return;
    const now = Date.now();
    for (const r of records) {
      if (r.kind !== 'reading') continue;
      const key = `${r.sensor}/${r.metric}`;
      const s = this.streams.get(key);
      if (!s) this.streams.set(key, { sensor: r.sensor, metric: r.metric, lastArrival: now, interval: 0, arrivals: 1 });
      else {
        const gap = now - s.lastArrival;
        // commits group readings, so tiny gaps are common: track a slow average of real gaps
        if (gap > 0) s.interval = s.interval === 0 ? gap : s.interval + (Math.min(gap, s.interval * 4) - s.interval) * 0.1;
        s.lastArrival = now;
        s.arrivals++;
      }
    }
    const events = this.engine.observe(records);
    for (const r of records) {
      if (r.kind === 'reading') this.engine.external(r.sensor, r.metric, 'stream_silent', false, r.ts, r.value, events);
    }
    this.dispatch(events);
  }

  private onUplinkHalted(value: unknown): void {
    if (!this.running) return;
    const h = value as { code?: string; batch?: number; error?: string } | null | undefined;
    const events: AlertEvent[] = [];
    const detail = h ? `the sink refused batch ${h.batch} (${h.code}): ${h.error}; sending stopped until fieldproof uplink resume` : undefined;
    this.engine.external('uplink', 'uplink', 'uplink_halted', Boolean(h), Date.now(), null, events, detail);
    this.dispatch(events);
  }

  /** Silent streams and failing sources: conditions no record shows. */
  private checkConditions(): void {
    if (!this.running) return;
    const now = Date.now();
    const events: AlertEvent[] = [];
    const factor = this.deps.config.silentFactor;
    if (factor > 0) {
      for (const s of this.streams.values()) {
        if (s.arrivals < 5 || s.interval <= 0) continue;
        const silentFor = now - s.lastArrival;
        if (silentFor > Math.max(factor * s.interval, this.deps.config.checkMs * 2)) this.engine.external(s.sensor, s.metric, 'stream_silent', true, now, null, events, `no reading for ${Math.round(silentFor / 1000)} s`);
      }
    }
    for (const st of this.deps.sourceStatuses()) {
      this.engine.external(st.id, 'source', 'source_down', st.state === 'down', now, null, events, st.detail);
      this.engine.external(st.id, 'source', 'source_degraded', st.state === 'degraded', now, null, events, st.detail);
    }
    // a repeated external condition only bumps its count: nothing to send
    this.dispatch(events);
  }

  private dispatch(events: AlertEvent[]): void {
    if (events.length === 0) return;
    const active = this.engine.activeAlerts();
    this.m.active.set(active.length);
    for (const e of events) {
      this.m.events.inc({ type: e.type, severity: e.alert.severity });
      this.history.record(e);
      this.mqtt?.publishEvent(e);
      this.webhook?.notify(e);
      this.deps.board.set('alertEvent', e);
      this.events.emit('alert', e);
      this.deps.log[e.alert.severity === 'critical' ? 'warn' : 'info']({ alert: e.alert.id, severity: e.alert.severity, type: e.type }, `alert ${e.type}`);
    }
    this.mqtt?.publishActive(active);
    this.deps.board.set('alerts', active);
  }
}
