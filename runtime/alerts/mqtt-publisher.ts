// Alerts and device status over MQTT 5: QoS 1 for everything, topics under
// <prefix>/<device>/, a retained status with a last will (so a subscriber knows the device is
// offline when its connection drops), TLS with client certificates (AWS IoT Core, which takes
// MQTT 5, retained messages and wills) and username/password. Not Azure IoT Hub: it takes MQTT
// 3.1.1 and its own topics only, and the config refuses its host (config.ts).
//   <prefix>/<device>/status          retained  {"state":"online"|"offline",...}
//   <prefix>/<device>/alerts          events    {"type":"raised"|"cleared","alert":{...}}
//   <prefix>/<device>/alerts/active   retained  [alert, ...]
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { counter, gauge } from '../../kernel/metrics.ts';
import { redactUrl } from '../../kernel/redact.ts';
import { endClient, loginAndTls } from '../mqtt/connection.ts';
import type { MqttConfig } from './config.ts';
import type { Alert, AlertEvent } from './engine.ts';

export class MqttAlertPublisher {
  private client: MqttClient | null = null;
  readonly topics: { status: string; alerts: string; active: string };
  private readonly m;

  private readonly config: MqttConfig;
  private readonly device: string;
  private readonly log: Logger;

  constructor(
    config: MqttConfig,
    device: string,
    log: Logger,
    metrics: Registry,
  ) {
    this.config = config;
    this.device = device;
    this.log = log;
    const base = `${config.topicPrefix}/${device}`;
    this.topics = { status: `${base}/status`, alerts: `${base}/alerts`, active: `${base}/alerts/active` };
    this.m = {
      published: counter(metrics, 'fieldproof_alerts_mqtt_published_total', 'MQTT messages acknowledged by the broker', ['topic']),
      failed: counter(metrics, 'fieldproof_alerts_mqtt_failed_total', 'MQTT publishes that failed'),
      connected: gauge(metrics, 'fieldproof_alerts_mqtt_connected', '1 while connected to the MQTT broker'),
    };
  }

  private options(): IClientOptions {
    return {
      ...loginAndTls(this.config, 'alerts.mqtt'),
      protocolVersion: 5,
      clientId: this.config.clientId ?? `fieldproof-${this.device}`,
      clean: true,
      reconnectPeriod: this.config.reconnectMs,
      will: { topic: this.topics.status, payload: Buffer.from(JSON.stringify({ state: 'offline', device: this.device })), qos: 1, retain: true },
    };
  }

  /** Connects in the background: the daemon starts even when the broker is unreachable, and QoS 1 messages wait for it. */
  async start(status: () => Record<string, unknown>): Promise<void> {
    const client = mqtt.connect(this.config.url, this.options());
    this.client = client;
    let lastError = '';
    client.on('connect', () => {
      // alerts are small and latency matters: do not let Nagle hold them back waiting for ACKs
      const stream = client.stream as { setNoDelay?: (on: boolean) => void };
      stream.setNoDelay?.(true);
      this.m.connected.set(1);
      lastError = '';
      this.log.info({ url: redactUrl(this.config.url) }, 'mqtt connected');
      this.publish(this.topics.status, { state: 'online', device: this.device, ...status() }, true);
    });
    client.on('close', () => this.m.connected.set(0));
    client.on('error', (err) => {
      // the client retries by itself; say why once per distinct failure
      if (err.message !== lastError) this.log.warn({ url: redactUrl(this.config.url), err: err.message }, 'mqtt connection problem');
      lastError = err.message;
    });
  }

  publishEvent(e: AlertEvent): void {
    this.publish(this.topics.alerts, e, false);
  }

  publishActive(active: Alert[]): void {
    this.publish(this.topics.active, active, true);
  }

  publishStatus(status: Record<string, unknown>): void {
    this.publish(this.topics.status, { state: 'online', device: this.device, ...status }, true);
  }

  private publish(topic: string, body: unknown, retain: boolean): void {
    const client = this.client;
    if (!client) return;
    client.publish(topic, JSON.stringify(body), { qos: 1, retain }, (err) => {
      if (err) {
        this.m.failed.inc();
        this.log.warn({ topic, err: err.message }, 'mqtt publish failed');
      } else this.m.published.inc({ topic: topic === this.topics.alerts ? 'alerts' : topic === this.topics.active ? 'active' : 'status' });
    });
  }

  /** Says offline on purpose (retained), then disconnects; waits for queued QoS 1 messages briefly. */
  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (client.connected) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        client.publish(this.topics.status, JSON.stringify({ state: 'offline', device: this.device }), { qos: 1, retain: true }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await endClient(client);
    this.m.connected.set(0);
  }
}
