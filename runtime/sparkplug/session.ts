// The edge node's MQTT sessions with the broker, as Sparkplug B 3.0 asks:
// - each CONNECT registers NDEATH (carrying that session's bdSeq, 0-255, one more than the last
//   session's, kept in the data dir) as the will, QoS 1, not retained;
// - on connect: NBIRTH (seq 0, the same bdSeq), then a DBIRTH per device, then data; every message
//   after the NBIRTH takes the next seq, 255 wrapping to 0; NDEATH has no seq;
// - an NCMD with `Node Control/Rebirth` = true is answered with NBIRTH and every DBIRTH again;
// - a clean stop publishes NDEATH itself before disconnecting.
// The session reconnects by itself (a new client each time, since each CONNECT carries a new will).
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { redactUrl } from '../../kernel/redact.ts';
import { loginAndTls } from '../mqtt/connection.ts';
import { MqttLink } from '../mqtt/link.ts';
import type { SparkplugConfig } from './config.ts';
import type { SparkplugCursor } from './cursor.ts';
import { asksRebirth, decodePayload, encodePayload, nodeBirth, nodeDeath, type UPayload } from './payloads.ts';
import type { SparkplugMetrics } from './metrics.ts';

/** An NCMD larger than this is not a rebirth request. */
const MAX_COMMAND_BYTES = 64 * 1024;
const MIN_REBIRTH_MS = 1000;

export type MessageType = 'DBIRTH' | 'DDEATH' | 'NDATA' | 'DDATA';

export interface SessionDeps {
  config: SparkplugConfig;
  /** the edge node id */
  node: string;
  cursor: SparkplugCursor;
  log: Logger;
  metrics: SparkplugMetrics;
  /** Connected and NBIRTH sent: the owner sends its DBIRTHs and starts data. Also on a rebirth request. */
  onBirth(rebirth: boolean): void;
  onOffline(): void;
  now?: () => number;
}

export class SparkplugSession {
  private seq = 0;
  private bdSeq = 0;
  private lastRebirth = Number.NEGATIVE_INFINITY;
  private readonly link: MqttLink;
  private readonly topicBase: string;
  private readonly d: SessionDeps;
  private readonly now: () => number;

  constructor(deps: SessionDeps) {
    this.d = deps;
    this.now = deps.now ?? Date.now;
    this.topicBase = `spBv1.0/${deps.config.group}`;
    this.link = new MqttLink({
      name: 'sparkplug',
      url: deps.config.url,
      reconnectMs: deps.config.reconnectMs,
      maxInFlight: deps.config.maxInFlight,
      log: deps.log,
      options: () => this.options(),
      onConnect: (client) => this.connected(client),
      // nothing but an NCMD comes to the node unasked
      onOversized: () => this.d.metrics.badCommands.inc(),
      onOffline: () => {
        this.d.metrics.connected.set(0);
        this.d.onOffline();
      },
    });
  }

  get online(): boolean {
    return this.link.online;
  }

  /** publishes not yet acknowledged (QoS 1) or written (QoS 0) */
  get inFlight(): number {
    return this.link.inFlight;
  }

  topic(type: string, device?: string): string {
    return `${this.topicBase}/${type}/${this.d.node}${device === undefined ? '' : `/${device}`}`;
  }

  start(): void {
    this.link.start();
  }

  /** A new attempt: a new bdSeq, on disk before the CONNECT whose will names it. */
  private options(): IClientOptions {
    this.bdSeq = this.d.cursor.nextBdSeq();
    const will = Buffer.from(encodePayload(nodeDeath(this.bdSeq, this.now())));
    return {
      ...loginAndTls(this.d.config, 'sparkplug'),
      protocolVersion: 4,
      clientId: this.d.config.clientId ?? `fieldproof-sparkplug-${this.d.node}`,
      clean: true,
      will: { topic: this.topic('NDEATH'), payload: will, qos: 1, retain: false },
    };
  }

  private connected(client: MqttClient): void {
    this.d.metrics.connected.set(1);
    this.d.log.info({ url: redactUrl(this.d.config.url), bdSeq: this.bdSeq }, 'sparkplug connected');
    client.on('message', (_topic, body) => this.command(body));
    client.subscribe(this.topic('NCMD'), { qos: 1 });
    this.birth(false);
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
    this.link.publish(topic, Buffer.from(encodePayload(payload)), this.d.config.qos, (err) => {
      if (err) this.d.metrics.failed.inc();
      else this.d.metrics.published.inc({ type });
      done(err);
    });
  }

  /** Resolves when no more than `max` publishes are waiting for the broker, or the connection is gone. */
  room(max: number): Promise<void> {
    return this.link.room(max);
  }

  /** A clean end: NDEATH published by the node itself, then a disconnect (the broker then drops the will). */
  async stop(): Promise<void> {
    await this.link.stop(
      () =>
        new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 2000);
          this.link.publish(this.topic('NDEATH'), Buffer.from(encodePayload(nodeDeath(this.bdSeq, this.now()))), 1, () => {
            clearTimeout(t);
            resolve();
          });
        }),
    );
    this.d.metrics.connected.set(0);
  }
}
