// A Sparkplug B subscriber for tests and the Sparkplug benchmark: what a SCADA host or historian
// sees. It subscribes to a group's messages, decodes each payload (Long values as numbers) and
// keeps them in arrival order.
import mqtt, { type MqttClient } from 'mqtt';
import { decodePayload } from '../runtime/sparkplug/payloads.ts';

export interface SpMetric {
  name: string;
  type: string;
  value: unknown;
  timestamp?: number;
  isHistorical?: boolean;
  properties: Record<string, unknown>;
}

export interface SpMessage {
  type: string;
  node: string;
  device?: string;
  seq?: number;
  timestamp: number;
  metrics: SpMetric[];
  /** when it arrived, performance.now() */
  at: number;
}

function num(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && 'toNumber' in v && typeof v.toNumber === 'function') return v.toNumber() as number;
  return v;
}

function decode(topic: string, body: Buffer): SpMessage {
  const [, , type, node, device] = topic.split('/');
  const p = decodePayload(body);
  const metrics = (p.metrics ?? []).map((m) => {
    const props: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(m.properties ?? {})) props[k] = num(v.value);
    const out: SpMetric = { name: m.name ?? '', type: m.type, value: num(m.value), properties: props };
    if (m.timestamp !== undefined && m.timestamp !== null) out.timestamp = num(m.timestamp) as number;
    if (m.isHistorical) out.isHistorical = true;
    return out;
  });
  const msg: SpMessage = { type: type!, node: node!, timestamp: num(p.timestamp) as number, metrics, at: performance.now() };
  if (device !== undefined) msg.device = device;
  if (p.seq !== undefined && p.seq !== null) msg.seq = num(p.seq) as number;
  return msg;
}

export class SparkplugSubscriber {
  readonly messages: SpMessage[] = [];
  /** payloads that were not Sparkplug B */
  undecodable = 0;
  private client: MqttClient | null = null;
  private waiters: { pred: (m: SpMessage) => boolean; resolve: (m: SpMessage) => void }[] = [];
  /** called for every message as it arrives */
  onMessage: ((m: SpMessage) => void) | null = null;
  private readonly url: string;
  private readonly group: string;

  constructor(url: string, group: string) {
    this.url = url;
    this.group = group;
  }

  async start(): Promise<void> {
    const client = mqtt.connect(this.url, { protocolVersion: 4, reconnectPeriod: 200, clean: true });
    this.client = client;
    client.on('message', (topic, body) => {
      let m: SpMessage;
      try {
        m = decode(topic, body);
      } catch {
        this.undecodable++;
        return;
      }
      this.messages.push(m);
      this.onMessage?.(m);
      for (const w of this.waiters.slice()) if (w.pred(m)) (this.waiters.splice(this.waiters.indexOf(w), 1), w.resolve(m));
    });
    // subscribe again on every reconnect: a restarted broker knows nothing of the last session
    const topic = `spBv1.0/${this.group}/#`;
    let first = true;
    client.on('connect', () => {
      // acknowledgements back to the broker go at once, not when Nagle's algorithm lets them
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      if (!first) client.subscribe(topic, { qos: 1 });
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    first = false;
    await client.subscribeAsync(topic, { qos: 1 });
  }

  /** The next message (from now, or already held when `past`) that `pred` accepts. */
  next(pred: (m: SpMessage) => boolean, timeoutMs = 10_000, past = false): Promise<SpMessage> {
    if (past) {
      const held = this.messages.find(pred);
      if (held) return Promise.resolve(held);
    }
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (m: SpMessage) => (clearTimeout(t), resolve(m)) };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no matching Sparkplug message within ${timeoutMs} ms (${this.messages.length} held)`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** The journal seqs of the readings in DDATA messages, in arrival order. */
  dataSeqs(): number[] {
    return this.messages.filter((m) => m.type === 'DDATA').flatMap((m) => m.metrics.filter((x) => !x.name.endsWith('_state')).map((x) => x.properties.journalSeq as number));
  }

  async stop(): Promise<void> {
    await this.client?.endAsync(true);
  }
}
