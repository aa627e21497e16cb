// Alert events POSTed as JSON to a webhook through undici, one at a time in order. While the
// endpoint is down events wait (bounded: the oldest are dropped and counted beyond maxQueued) and
// delivery is retried with backoff.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { request } from 'undici';
import { counter } from '../../kernel/metrics.ts';
import { redactUrl } from '../../kernel/redact.ts';
import type { WebhookConfig } from './config.ts';
import type { AlertEvent } from './engine.ts';

export class WebhookNotifier {
  private readonly queue: AlertEvent[] = [];
  private sending = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoffMs = 500;
  private readonly m;

  private readonly config: WebhookConfig;
  private readonly device: string;
  private readonly log: Logger;

  constructor(
    config: WebhookConfig,
    device: string,
    log: Logger,
    metrics: Registry,
  ) {
    this.config = config;
    this.device = device;
    this.log = log;
    this.m = {
      sent: counter(metrics, 'fieldproof_alerts_webhook_sent_total', 'Alert events the webhook accepted'),
      failed: counter(metrics, 'fieldproof_alerts_webhook_failures_total', 'Webhook deliveries that failed (and are retried)', ['reason']),
      dropped: counter(metrics, 'fieldproof_alerts_webhook_dropped_total', 'Alert events dropped because the webhook queue was full'),
    };
  }

  async start(): Promise<void> {
    this.stopped = false;
  }

  notify(e: AlertEvent): void {
    if (this.stopped) return;
    if (this.queue.length >= this.config.maxQueued) {
      this.queue.shift();
      this.m.dropped.inc();
    }
    this.queue.push(e);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.sending || this.retryTimer || this.stopped) return;
    this.sending = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const e = this.queue[0]!;
        const problem = await this.send(e);
        if (problem) {
          this.m.failed.inc({ reason: problem.startsWith('HTTP') ? 'status' : 'network' });
          // A webhook URL's path is often its secret (Slack, Discord, Teams): the log shows the host only.
          this.log.warn({ url: redactUrl(this.config.url, { hostOnly: true }), problem, waiting: this.queue.length }, 'webhook delivery failed; retrying');
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            void this.pump();
          }, this.backoffMs);
          this.retryTimer.unref();
          this.backoffMs = Math.min(this.backoffMs * 2, 60_000);
          return;
        }
        this.queue.shift();
        this.backoffMs = 500;
        this.m.sent.inc();
      }
    } finally {
      this.sending = false;
    }
  }

  private async send(e: AlertEvent): Promise<string | null> {
    try {
      const res = await request(this.config.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.config.headers },
        body: JSON.stringify({ device: this.device, ...e }),
        headersTimeout: this.config.timeoutMs,
        bodyTimeout: this.config.timeoutMs,
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300 ? null : `HTTP ${res.statusCode}`;
    } catch (err) {
      return (err as Error).message;
    }
  }

  get pending(): number {
    return this.queue.length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.queue.length > 0) this.log.warn({ undelivered: this.queue.length }, 'webhook events not delivered at stop');
  }
}
