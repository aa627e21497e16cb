// The fleet page's live feed: Server-Sent Events (`GET /v1/fleet/events`), one `fleet` event
// with the whole view when it changed (at most once a tick) or has aged (silence grows without
// any event), and a comment line as a heartbeat so that idle connections stay open through
// proxies. Bounded: a few subscribers at most, each built from one shared snapshot; one that
// does not read what it is sent is dropped rather than buffered for.
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { counter, gauge } from '../../kernel/metrics.ts';
import type { FleetSnapshot, FleetView } from './fleet-view.ts';

export interface FleetFeedConfig {
  maxSubscribers: number;
  tickMs: number;
  /** a view is sent again after this long even when nothing was noted (silence, anchors) */
  refreshMs: number;
  heartbeatMs: number;
  /** bytes a subscriber may leave unread before it is dropped */
  maxUnreadBytes: number;
}

export const FLEET_FEED_DEFAULTS: FleetFeedConfig = {
  maxSubscribers: 32, tickMs: 500, refreshMs: 5000, heartbeatMs: 10_000, maxUnreadBytes: 1024 * 1024,
};

export interface FleetFeedDeps {
  view: FleetView;
  log: Logger;
  metrics: Registry;
  config?: Partial<FleetFeedConfig>;
}

export class FleetFeed {
  private readonly subscribers = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private building = false;
  private sentVersion = -1;
  private sentAt = 0;
  private heartbeatAt = 0;
  private readonly m;
  private readonly config: FleetFeedConfig;

  private readonly deps: FleetFeedDeps;

  constructor(deps: FleetFeedDeps) {
    this.deps = deps;
    this.config = { ...FLEET_FEED_DEFAULTS, ...deps.config };
    this.m = {
      subscribers: gauge(deps.metrics, 'fieldproof_sink_fleet_subscribers', 'Fleet pages following the live feed'),
      dropped: counter(deps.metrics, 'fieldproof_sink_fleet_subscribers_dropped_total', 'Live feed subscribers dropped, by reason', ['reason']),
    };
  }

  get size(): number {
    return this.subscribers.size;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.config.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const res of this.subscribers) res.end();
    this.subscribers.clear();
    this.m.subscribers.set(0);
  }

  /** Follow the feed on `res`; false when the feed is full (the caller answers 503). */
  subscribe(res: ServerResponse): boolean {
    if (this.subscribers.size >= this.config.maxSubscribers) {
      this.m.dropped.inc({ reason: 'full' });
      return false;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    // A retry hint for EventSource, then the view at once (the next tick sends it to everyone).
    res.write(`retry: 2000\n\n`);
    this.subscribers.add(res);
    this.m.subscribers.set(this.subscribers.size);
    res.once('close', () => {
      this.subscribers.delete(res);
      this.m.subscribers.set(this.subscribers.size);
    });
    this.sentVersion = -1;
    void this.tick();
    return true;
  }

  private async tick(): Promise<void> {
    if (this.building || this.subscribers.size === 0) return;
    const now = Date.now();
    const { view } = this.deps;
    if (view.version === this.sentVersion && now - this.sentAt < this.config.refreshMs) {
      if (now - this.heartbeatAt >= this.config.heartbeatMs) this.broadcast(': heartbeat\n\n', now);
      return;
    }
    this.building = true;
    try {
      const version = view.version;
      const snapshot: FleetSnapshot = await view.snapshot();
      this.sentVersion = version;
      this.sentAt = Date.now();
      this.broadcast(`event: fleet\ndata: ${JSON.stringify(snapshot)}\n\n`, this.sentAt);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'the fleet view could not be built for the live feed');
    } finally {
      this.building = false;
    }
  }

  private broadcast(text: string, now: number): void {
    this.heartbeatAt = now;
    for (const res of this.subscribers) {
      if (res.writableLength > this.config.maxUnreadBytes) {
        this.m.dropped.inc({ reason: 'slow' });
        this.deps.log.warn({ unread: res.writableLength }, 'a fleet page does not read its live feed: dropped');
        this.subscribers.delete(res);
        res.destroy();
        continue;
      }
      res.write(text);
    }
    this.m.subscribers.set(this.subscribers.size);
  }
}
