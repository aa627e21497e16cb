// Anchoring: once per interval, the batch headers accepted since the last anchor become the
// leaves of one RFC 6962 tree, whose root goes on chain in one transaction however many devices
// there are. The anchor row (its leaves fixed) is written before anything is sent, and an anchor
// not yet committed is finished before a new one starts, so a restart resumes where it stopped.
// An admission rule (the device keys on chain) may hold some batches back from an anchor.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BatchHeader } from '../../protocol/batch.ts';
import { counter, gauge } from '../../kernel/metrics.ts';
import type { SinkStore } from '../store/types.ts';
import type { AnchorChain } from './aptos-chain.ts';
import { anchorRoot } from './tree.ts';

/** Decides which accepted batches may go into an anchor. */
export interface AnchorAdmission {
  /** Learn what is needed to judge the batches of these devices (read once per anchor). */
  prepare(devices: readonly string[]): Promise<void>;
  /** Null when the batch may be anchored; else why it is held back, in one line. */
  holdBack(header: BatchHeader): string | null;
}

export interface AnchorerOptions {
  store: SinkStore;
  chain: AnchorChain;
  intervalMs: number;
  retryMs: number;
  log: Logger;
  metrics: Registry;
  /** most header hashes in one anchor tree */
  maxLeaves?: number;
  /** batches it holds back stay unanchored, are counted and logged, and are judged again next time */
  admission?: AnchorAdmission;
  now?: () => number;
}

export class Anchorer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  private failures = 0;
  private startedAt = 0;
  private readonly m;

  private readonly opts: AnchorerOptions;

  constructor(opts: AnchorerOptions) {
    this.opts = opts;
    const reg = opts.metrics;
    this.m = {
      anchors: counter(reg, 'fieldproof_sink_anchors_total', 'Anchor attempts, by outcome', ['outcome']),
      unanchored: gauge(reg, 'fieldproof_sink_unanchored_batches', 'Batches accepted but not yet in an anchor'),
      lastAnchor: gauge(reg, 'fieldproof_sink_last_anchor_timestamp_seconds', 'When the last anchor committed'),
      heldBack: counter(reg, 'fieldproof_sink_anchor_held_back_total', 'Batches held back from an anchor (each time an anchor is made without them)'),
      heldBackNow: gauge(reg, 'fieldproof_sink_anchor_held_back_batches', 'Batches held back from the last anchor made'),
    };
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.startedAt = (this.opts.now ?? Date.now)();
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
        // Several processes share the store: only one anchor per interval between them. A store
        // that never anchored counts the interval from this start (the first tick comes soon
        // after it only to finish an anchor left open).
        if (!force && now - (latest?.createdAt ?? this.startedAt) < this.opts.intervalMs * 0.9) return null;
        const max = this.opts.maxLeaves ?? 1_000_000;
        const admission = await this.admission(max);
        anchor = await store.createAnchor(max, now, anchorRoot, admission?.admit);
        admission?.report();
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

  /** The admission rule for one new anchor, prepared for the devices it may cover; null without one. */
  private async admission(max: number): Promise<{ admit: (h: BatchHeader) => boolean; report: () => void } | null> {
    const rule = this.opts.admission;
    if (!rule) return null;
    await rule.prepare(await this.opts.store.unanchoredDevices(max));
    const held = new Map<string, { device: string; reason: string; batches: number[] }>();
    return {
      admit: (h) => {
        const reason = rule.holdBack(h);
        if (reason === null) return true;
        const group = held.get(`${h.device}\n${reason}`) ?? { device: h.device, reason, batches: [] };
        group.batches.push(h.batch);
        held.set(`${h.device}\n${reason}`, group);
        return false;
      },
      report: () => {
        let n = 0;
        for (const g of held.values()) {
          n += g.batches.length;
          // one line per device and reason, not per batch: the same batches are judged again each interval
          this.opts.log.warn({ device: g.device, count: g.batches.length, batches: g.batches.slice(0, 20), reason: g.reason }, `batches held back from anchoring: ${g.reason}`);
        }
        this.m.heldBack.inc(n);
        this.m.heldBackNow.set(n);
      },
    };
  }
}
