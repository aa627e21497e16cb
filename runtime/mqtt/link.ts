// A connection to an MQTT broker that a journal publisher (Sparkplug, the cloud IoT platforms)
// sends over: a new client for each attempt, so that each CONNECT can carry what is true at that
// moment (Sparkplug's will with a new bdSeq, a fresh Azure SAS token); retries backing off from
// `reconnectMs` to a minute while the broker stays away; publishes counted until the broker has
// them, so that the owner can bound what waits (`room`) and forget what a broken connection lost.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { redactUrl } from '../../kernel/redact.ts';
import { endClient } from './connection.ts';
import { IncomingPacketSizes } from './packet-sizes.ts';

/**
 * The largest packet taken from the broker. The device publishes; what comes back is
 * acknowledgements and the few commands it subscribes to (a Sparkplug NCMD, itself refused over
 * 64 KiB): a larger packet ends the connection before it has been read.
 */
export const MAX_INCOMING_PACKET_BYTES = 256 * 1024;

const MAX_RECONNECT_MS = 60_000;

export interface LinkDeps {
  /** names the publisher in the log ('sparkplug', 'aws-iot') */
  name: string;
  url: string;
  reconnectMs: number;
  /** publishes waiting for the broker at which `room` makes its callers wait */
  maxInFlight: number;
  /** the options of a new connection attempt, made for each one; may throw (a file gone) */
  options(): IClientOptions;
  log: Logger;
  /** connected: the owner subscribes, announces itself, starts data */
  onConnect(client: MqttClient): void;
  /** the connection is gone (or never came): what was in flight is the owner's to send again */
  onOffline(): void;
  /** an attempt failed or a connection broke, with the client library's reason */
  onError?(message: string): void;
  /** the broker sent a packet over MAX_INCOMING_PACKET_BYTES; the connection is dropped */
  onOversized?(bytes: number): void;
}

export class MqttLink {
  private client: MqttClient | null = null;
  private stopping = false;
  private retry: NodeJS.Timeout | null = null;
  /** publishes not yet acknowledged (QoS 1) or written (QoS 0) */
  inFlight = 0;
  /** which client a publish went out on: acknowledgements of a closed one no longer count */
  private generation = 0;
  private drained: (() => void)[] = [];
  private lastError = '';
  /** connection attempts in a row that did not connect */
  private failures = 0;
  /** the client being ended on purpose so that a new one connects at once */
  private renewing: MqttClient | null = null;
  private readonly d: LinkDeps;

  constructor(deps: LinkDeps) {
    this.d = deps;
  }

  get online(): boolean {
    return this.client?.connected === true;
  }

  start(): void {
    this.stopping = false;
    this.attempt();
  }

  private attempt(): void {
    try {
      this.connect();
    } catch (err) {
      // a password or certificate file gone since the start: say so, keep trying
      this.d.log.error({ err: (err as Error).message }, `${this.d.name} cannot connect`);
      this.d.onError?.((err as Error).message);
      this.scheduleReconnect();
    }
  }

  private connect(): void {
    if (this.stopping) return;
    const options = this.d.options();
    this.generation++;
    const client = mqtt.connect(this.d.url, { ...options, reconnectPeriod: 0 });
    this.client = client;
    const sizes = new IncomingPacketSizes(MAX_INCOMING_PACKET_BYTES);
    // the transport's bytes (TCP, TLS or WebSocket), which the client's parser reads too
    client.stream?.on('data', (chunk: Buffer) => {
      const over = sizes.feed(chunk);
      if (over === null) return;
      this.d.onOversized?.(over);
      client.stream.destroy(new Error(`the broker sent a packet of ${over} bytes, over ${MAX_INCOMING_PACKET_BYTES}: connection dropped before reading it`));
    });
    client.on('connect', () => {
      // small messages, and latency matters: do not let Nagle hold them back waiting for ACKs
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      this.lastError = '';
      this.failures = 0;
      this.d.onConnect(client);
    });
    client.on('error', (err) => {
      // say why once per distinct failure; the close that follows schedules the retry
      if (err.message !== this.lastError) this.d.log.warn({ url: redactUrl(this.d.url), err: err.message }, `${this.d.name} connection problem`);
      this.lastError = err.message;
      this.d.onError?.(err.message);
    });
    client.once('close', () => this.closed(client));
  }

  private closed(client: MqttClient): void {
    if (this.client !== client) return;
    const renewing = this.renewing === client;
    this.renewing = null;
    client.removeAllListeners('message');
    client.end(true);
    this.client = null;
    this.releaseInFlight();
    this.d.onOffline();
    if (renewing) this.attempt();
    else this.scheduleReconnect();
  }

  /**
   * Retries back off from reconnectMs to a minute: a broker coming back is not met by every
   * client at once, and an attempt may cost a write to flash (Sparkplug's bdSeq).
   */
  private scheduleReconnect(): void {
    if (this.stopping) return;
    const delay = Math.min(MAX_RECONNECT_MS, this.d.reconnectMs * 2 ** Math.min(this.failures++, 16));
    this.retry = setTimeout(() => this.attempt(), Math.max(delay, this.d.reconnectMs));
  }

  /**
   * Disconnects on purpose (what was in flight given up to 2 s to be acknowledged) and connects
   * again at once with new options: a credential about to expire.
   */
  async renew(): Promise<void> {
    const client = this.client;
    if (!client?.connected || this.stopping) return;
    this.renewing = client;
    await endClient(client);
  }

  /**
   * Publishes; `done` runs when the broker has it (QoS 1: acknowledged; QoS 0: written), with an
   * error when the connection broke first. False (and `done` never called) when offline.
   */
  publish(topic: string, payload: Buffer | string, qos: 0 | 1, done: (err?: Error) => void): boolean {
    const client = this.client;
    if (!client?.connected) return false;
    const generation = this.generation;
    this.inFlight++;
    client.publish(topic, payload, { qos, retain: false }, (err) => {
      if (generation === this.generation && --this.inFlight <= this.d.maxInFlight / 2) this.releaseDrained();
      done(err ?? undefined);
    });
    return true;
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

  /** Stops retrying and disconnects; `last` runs first while still connected (Sparkplug's NDEATH). */
  async stop(last?: () => Promise<void>): Promise<void> {
    this.stopping = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    if (!client) return;
    if (client.connected && last) await last();
    await endClient(client);
    this.closed(client);
  }
}
