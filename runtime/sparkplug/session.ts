// The edge node's MQTT sessions with the broker, as Sparkplug B 3.0 asks:
// - each CONNECT registers NDEATH (carrying that session's bdSeq, 0-255, one more than the last
//   session's, kept in the data dir) as the will, QoS 1, not retained;
// - on connect: NBIRTH (seq 0, the same bdSeq), then a DBIRTH per device, then data; every message
//   after the NBIRTH takes the next seq, 255 wrapping to 0; NDEATH has no seq;
// - an NCMD with `Node Control/Rebirth` = true is answered with NBIRTH and every DBIRTH again;
// - a clean stop publishes NDEATH itself before disconnecting.
// The session reconnects by itself (a new client each time, since each CONNECT carries a new will).
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { redactUrl } from '../../kernel/redact.ts';
import { endClient, loginAndTls } from '../mqtt/connection.ts';
import type { SparkplugConfig } from './config.ts';
import type { PublishedCursor } from './cursor.ts';
import { asksRebirth, decodePayload, encodePayload, nodeBirth, nodeDeath, type UPayload } from './payloads.ts';
import type { SparkplugMetrics } from './metrics.ts';

/** An NCMD larger than this is not a rebirth request. */
const MAX_COMMAND_BYTES = 64 * 1024;
const MIN_REBIRTH_MS = 1000;
const MAX_RECONNECT_MS = 60_000;

export type MessageType = 'DBIRTH' | 'DDEATH' | 'NDATA' | 'DDATA';

export interface SessionDeps {
  config: SparkplugConfig;
  /** the edge node id */
  node: string;
  cursor: PublishedCursor;
  log: Logger;
  metrics: SparkplugMetrics;
  /** Connected and NBIRTH sent: the owner sends its DBIRTHs and starts data. Also on a rebirth request. */
  onBirth(rebirth: boolean): void;
  onOffline(): void;
  now?: () => number;
}

export class SparkplugSession {
  private client: MqttClient | null = null;
  private stopping = false;
  private retry: NodeJS.Timeout | null = null;
  private seq = 0;
  private bdSeq = 0;
  /** publishes not yet acknowledged (QoS 1) or written (QoS 0) */
  inFlight = 0;
  /** which client a publish went out on: acknowledgements of a closed one no longer count */
  private generation = 0;
  private drained: (() => void)[] = [];
  private lastError = '';
  private lastRebirth = Number.NEGATIVE_INFINITY;
  /** connection attempts in a row that did not connect */
  private failures = 0;
  private readonly topicBase: string;
  private readonly d: SessionDeps;
  private readonly now: () => number;

  constructor(deps: SessionDeps) {
    this.d = deps;
    this.now = deps.now ?? Date.now;
    this.topicBase = `spBv1.0/${deps.config.group}`;
  }

  get online(): boolean {
    return this.client?.connected === true;
  }

  topic(type: string, device?: string): string {
    return `${this.topicBase}/${type}/${this.d.node}${device === undefined ? '' : `/${device}`}`;
  }

  start(): void {
    this.stopping = false;
    this.connect();
  }

  private options(will: Buffer): IClientOptions {
    return {
      ...loginAndTls(this.d.config, 'sparkplug'),
      protocolVersion: 4,
      clientId: this.d.config.clientId ?? `fieldproof-sparkplug-${this.d.node}`,
      clean: true,
      // each CONNECT carries a new will: this session reconnects itself, with a new client
      reconnectPeriod: 0,
      will: { topic: this.topic('NDEATH'), payload: will, qos: 1, retain: false },
    };
  }

  private connect(): void {
    if (this.stopping) return;
    this.bdSeq = this.d.cursor.nextBdSeq();
    this.generation++;
    const client = mqtt.connect(this.d.config.url, this.options(Buffer.from(encodePayload(nodeDeath(this.bdSeq, this.now())))));
    this.client = client;
    client.on('connect', () => {
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      this.lastError = '';
      this.failures = 0;
      this.d.metrics.connected.set(1);
      this.d.log.info({ url: redactUrl(this.d.config.url), bdSeq: this.bdSeq }, 'sparkplug connected');
      client.subscribe(this.topic('NCMD'), { qos: 1 });
      this.birth(false);
    });
    client.on('message', (_topic, body) => this.command(body));
    client.on('error', (err) => {
      // say why once per distinct failure; the close that follows schedules the retry
      if (err.message !== this.lastError) this.d.log.warn({ url: redactUrl(this.d.config.url), err: err.message }, 'sparkplug connection problem');
      this.lastError = err.message;
    });
    client.once('close', () => this.closed(client));
  }

  private closed(client: MqttClient): void {
    if (this.client !== client) return;
    this.d.metrics.connected.set(0);
    client.removeAllListeners('message');
    client.end(true);
    this.client = null;
    this.releaseInFlight();
    this.d.onOffline();
    this.scheduleReconnect();
  }

  /**
   * Retries back off from reconnectMs to a minute: each attempt is a new bdSeq written to disk
   * (flash storage on a long outage), and a broker coming back is not met by every client at once.
   */
  private scheduleReconnect(): void {
    if (this.stopping) return;
    const delay = Math.min(MAX_RECONNECT_MS, this.d.config.reconnectMs * 2 ** Math.min(this.failures++, 16));
    this.retry = setTimeout(() => {
      try {
        this.connect();
      } catch (err) {
        // a password or certificate file gone since the start: say so, keep trying
        this.d.log.error({ err: (err as Error).message }, 'sparkplug cannot connect');
        this.scheduleReconnect();
      }
    }, Math.max(delay, this.d.config.reconnectMs));
  }

  /** Publishes NBIRTH (seq 0) and asks the owner for the DBIRTHs. */
  private birth(rebirth: boolean): void {
    this.seq = 0;
    this.send(this.topic('NBIRTH'), nodeBirth(this.bdSeq, this.now()), 'NBIRTH', () => undefined);
    this.d.onBirth(rebirth);
  }

  /**
   * NCMD comes from whoever may write the topic: bounded, decoded defensively, acted on only when
   * it asks for a rebirth, and then at most once a second (a rebirth sends every DBIRTH).
   */
  private command(body: Buffer): void {
    if (body.length > MAX_COMMAND_BYTES) {
      this.d.metrics.badCommands.inc();
      this.d.log.warn({ bytes: body.length }, 'sparkplug NCMD too large, ignored');
      return;
    }
    let payload: UPayload;
    try {
      payload = decodePayload(body);
    } catch (err) {
      this.d.metrics.badCommands.inc();
      this.d.log.warn({ err: (err as Error).message, bytes: body.length }, 'sparkplug NCMD that does not decode, ignored');
      return;
    }
    if (!asksRebirth(payload)) return;
    const now = this.now();
    if (now - this.lastRebirth < MIN_REBIRTH_MS) {
      this.d.log.warn('sparkplug rebirth requested again within a second, ignored');
      return;
    }
    this.lastRebirth = now;
    this.d.log.info('sparkplug rebirth requested');
    this.d.metrics.rebirths.inc();
    this.birth(true);
  }

  /**
   * Sends a message with the next seq. `done` runs when the broker has it (QoS 1: acknowledged;
   * QoS 0: written), with an error when the connection broke first. False when offline.
   */
  publish(type: MessageType, device: string | undefined, payload: UPayload, done: (err?: Error) => void): boolean {
    if (!this.online) return false;
    this.seq = (this.seq + 1) % 256;
    this.send(this.topic(type, device), { ...payload, seq: this.seq }, type, done);
    return true;
  }

  private send(topic: string, payload: UPayload, type: string, done: (err?: Error) => void): void {
    const client = this.client!;
    const bytes = Buffer.from(encodePayload(payload));
    const generation = this.generation;
    this.inFlight++;
    client.publish(topic, bytes, { qos: this.d.config.qos, retain: false }, (err) => {
      if (generation === this.generation && --this.inFlight <= this.d.config.maxInFlight / 2) this.releaseDrained();
      if (err) this.d.metrics.failed.inc();
      else this.d.metrics.published.inc({ type });
      done(err ?? undefined);
    });
  }

  /** Resolves when no more than `max` publishes are waiting for the broker, or the connection is gone. */
  room(max: number): Promise<void> {
    if (this.inFlight < max || !this.online) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private releaseDrained(): void {
    const waiting = this.drained;
    this.drained = [];
    for (const r of waiting) r();
  }

  private releaseInFlight(): void {
    this.generation++;
    this.inFlight = 0;
    this.releaseDrained();
  }

  /** A clean end: NDEATH published by the node itself, then a disconnect (the broker then drops the will). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        client.publish(this.topic('NDEATH'), Buffer.from(encodePayload(nodeDeath(this.bdSeq, this.now()))), { qos: 1, retain: false }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await endClient(client);
    this.client = null;
    this.d.metrics.connected.set(0);
  }
}
