// Anchoring: once per interval, the batch headers accepted since the last anchor become the
// leaves of one RFC 6962 tree, whose root goes on chain in one transaction however many devices
// there are. The anchor row (its leaves fixed) is written before anything is sent, and an anchor
// not yet committed is finished before a new one starts, so a restart resumes where it stopped.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { counter, gauge } from '../../kernel/metrics.ts';
import type { SinkStore } from '../store/types.ts';
import type { AnchorChain } from './aptos-chain.ts';
import { anchorRoot } from './tree.ts';

export interface AnchorerOptions {
  store: SinkStore;
  chain: AnchorChain;
  intervalMs: number;
  retryMs: number;
  log: Logger;
  metrics: Registry;
  /** most header hashes in one anchor tree */
  maxLeaves?: number;
  now?: () => number;
}

export class Anchorer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  private failures = 0;
  private readonly m;

  private readonly opts: AnchorerOptions;

  constructor(opts: AnchorerOptions) {
    this.opts = opts;
    const reg = opts.metrics;
    this.m = {
      anchors: counter(reg, 'fieldproof_sink_anchors_total', 'Anchor attempts, by outcome', ['outcome']),
      unanchored: gauge(reg, 'fieldproof_sink_unanchored_batches', 'Batches accepted but not yet in an anchor'),
      lastAnchor: gauge(reg, 'fieldproof_sink_last_anchor_timestamp_seconds', 'When the last anchor committed'),
    };
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.schedule(Math.min(this.opts.intervalMs, 1000));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.tick().finally(() => {
        this.running = null;
      });
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.runOnce();
      this.failures = 0;
      this.schedule(this.opts.intervalMs);
    } catch (err) {
      this.failures++;
      const delay = Math.min(this.opts.intervalMs, this.opts.retryMs * 2 ** Math.min(this.failures - 1, 10));
      this.m.anchors.inc({ outcome: 'failed' });
      this.opts.log.error({ err: (err as Error).message, retryInMs: delay }, 'anchoring failed; will retry');
      this.schedule(delay);
    }
  }

  /**
   * Finish the open anchor, or open a new one when the interval since the last has passed.
   * Returns the id of the anchor committed, or null when there was nothing to do.
   */
  async runOnce(force = false): Promise<number | null> {
    const { store, chain, log } = this.opts;
    const now = (this.opts.now ?? Date.now)();
    const result = await store.withAnchorLock(async () => {
      let anchor = await store.openAnchor();
      if (!anchor) {
        const latest = await store.latestAnchor();
        // Several processes share the store: only one anchor per interval between them.
        if (!force && latest && now - latest.createdAt < this.opts.intervalMs * 0.9) return null;
        anchor = await store.createAnchor(this.opts.maxLeaves ?? 1_000_000, now, anchorRoot);
        if (!anchor) return null;
        log.info({ anchor: anchor.id, root: anchor.root, batches: anchor.size }, 'anchor opened');
      }
      const id = anchor.id;
      const done = await chain.record(anchor, (patch) => store.updateAnchor(id, patch));
      await store.updateAnchor(id, { ...done, state: 'committed', detail: { ...(await store.anchor(id))!.detail, committedAt: Date.now() } });
      this.m.anchors.inc({ outcome: 'committed' });
      this.m.lastAnchor.set(Date.now() / 1000);
      log.info({ anchor: id, tx: done.tx, version: done.version, chain: done.chain }, 'anchor committed');
      return id;
    });
    this.m.unanchored.set(await store.unanchoredCount());
    return result;
  }
}
