// A subscriber that holds what a cloud IoT platform's consumer would receive from the device: each
// message's topic and its JSON array of records, in arrival order (the cloud telemetry bench and
// tests; tests reach it through their support folder).
import { performance } from 'node:perf_hooks';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface TelemetryItem {
  id: string;
  seq: number;
  kind: string;
  sensor?: string;
  value?: number | null;
  historical?: boolean;
  [field: string]: unknown;
}

export interface TelemetryMessage {
  topic: string;
  bytes: number;
  items: TelemetryItem[];
  /** performance.now() on arrival */
  at: number;
}

export class TelemetrySubscriber {
  readonly messages: TelemetryMessage[] = [];
  /** called for each message as it arrives; the bench keeps `keep: false` to hold none */
  onMessage: ((m: TelemetryMessage) => void) | null = null;
  keep = true;
  private client: MqttClient | null = null;
  private readonly url: string;
  private readonly filter: string;
  private readonly options: IClientOptions;

  constructor(url: string, filter: string, options: IClientOptions = {}) {
    this.url = url;
    this.filter = filter;
    this.options = options;
  }

  async start(): Promise<void> {
    const client = await mqtt.connectAsync(this.url, { ...this.options, reconnectPeriod: 200, clean: true });
    this.client = client;
    client.on('message', (topic, body) => {
      const m = { topic, bytes: body.length, items: JSON.parse(body.toString('utf8')) as TelemetryItem[], at: performance.now() };
      if (this.keep) this.messages.push(m);
      this.onMessage?.(m);
    });
    // a broker restarted forgets subscriptions of a clean session: subscribe on every connect
    client.on('connect', () => void client.subscribeAsync(this.filter, { qos: 1 }));
    await client.subscribeAsync(this.filter, { qos: 1 });
  }

  items(): TelemetryItem[] {
    return this.messages.flatMap((m) => m.items);
  }

  seqs(): number[] {
    return this.items().map((i) => i.seq);
  }

  /** Waits until `count` distinct seqs have arrived. */
  async until(count: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (new Set(this.seqs()).size < count) {
      if (Date.now() > deadline) throw new Error(`${new Set(this.seqs()).size} of ${count} records arrived`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    await this.client?.endAsync(true);
  }
}
