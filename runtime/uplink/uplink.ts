// The uplink: sealed batches from the journal to the sink, oldest first, a few in flight. A batch
// is deleted from the journal only once the sink has acknowledged it and every batch before it
// (journal.acknowledge), so a crash at any point loses nothing; the sink's idempotency makes the
// resends after a restart harmless. An acknowledgement is a receipt signed by the sink key the
// device trusts (sink-trust.ts), for exactly the batch's header hash; a 200 without one is not.
// Failures back off exponentially with full jitter.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Dispatcher } from 'undici';
import { headerHash } from '../../protocol/batch.ts';
import type { Receipt } from '../../protocol/receipt.ts';
import type { StatusBoard } from '../../kernel/component.ts';
import type { Journal } from '../journal/journal.ts';
import { counter, gauge, histogram } from '../../kernel/metrics.ts';
import { BatchBodies, NOT_READY } from './batch-bodies.ts';
import { uplinkSchema, type UplinkConfig, type UplinkConfigInput } from './config.ts';
import { HaltSwitch } from './halt.ts';
import { ReceiptGate } from './receipt-gate.ts';
import { AnswerTooLarge, SinkClient, type SinkReply } from './sink-client.ts';
import { chainRelation, EpochRecovery, type HeadAnswer } from './recovery.ts';
import { SinkTrust } from './sink-trust.ts';
import { TokenBucket } from './token-bucket.ts';

export interface UplinkDeps {
  journal: Journal;
  /** the `uplink:` section; missing optional keys take their defaults */
  config: UplinkConfigInput;
  device: string;
  /** the device's data folder: a sink key pinned on first use is kept there */
  dataDir: string;
  log: Logger;
  metrics: Registry;
  board?: StatusBoard;
  /** a dispatcher other than the one built from the config (tests) */
  dispatcher?: Dispatcher;
}

type SendOutcome = 'acked' | 'retry' | 'rewind' | 'wait';

/** How long a pruned batch waits for the gap record that covers it to be sealed. */
const COVER_WAIT_MS = 500;

export class Uplink {
  readonly name = 'uplink';
  private running = false;
  private next = 1;
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly acked = new Set<number>();
  private ackCursor = 0;
  private ackChain: Promise<void> = Promise.resolve();
  private failures = 0;
  private pausedUntil = 0;
  private wakeTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private needResync = true;
  private resyncing: Promise<void> | null = null;
  private bucket: TokenBucket | null = null;
  private lastPublished = '';
  /** sending stopped until an operator acts */
  private readonly halt: HaltSwitch;
  private readonly gate: ReceiptGate;
  private readonly recovery: EpochRecovery;
  private readonly bodies: BatchBodies;
  private readonly base: string;
  private readonly config: UplinkConfig;
  private readonly trust: SinkTrust;
  private readonly client: SinkClient;
  private readonly m;

  private readonly deps: UplinkDeps;

  constructor(deps: UplinkDeps) {
    this.deps = deps;
    this.config = uplinkSchema.parse(deps.config);
    this.base = this.config.url.replace(/\/+$/, '');
    this.trust = new SinkTrust({ configuredKey: this.config.sinkKey, dataDir: deps.dataDir, url: this.base, log: deps.log });
    this.client = new SinkClient({ base: this.base, config: this.config, ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}) });
    this.bodies = new BatchBodies(deps.journal, { encoding: this.config.encoding, gzipLevel: this.config.gzipLevel });
    this.recovery = new EpochRecovery({
      journal: deps.journal, device: deps.device, deviceKey: deps.journal.publicKey, log: deps.log,
      heldBatch: (batch, epoch, records) => this.heldBatch(batch, epoch, records),
      // the sink's word that it holds the batch, as it holds it (pruned or not): recovery reads its records
      receiptHolds: (receipt, batch, hash) => this.gate.holds(receipt, batch, hash, 'head', false),
    });
    const reg = deps.metrics;
    this.m = {
      sent: counter(reg, 'fieldproof_uplink_batches_total', 'Batch sends, by outcome', ['outcome']),
      bytes: counter(reg, 'fieldproof_uplink_wire_bytes_total', 'Request body bytes sent'),
      records: counter(reg, 'fieldproof_uplink_records_acked_total', 'Records the sink acknowledged'),
      errors: counter(reg, 'fieldproof_uplink_errors_total', 'Failed sends, by reason', ['reason']),
      unacknowledged: counter(reg, 'fieldproof_uplink_receipts_refused_total', 'Sink answers not taken as acknowledgements (no, bad or foreign receipt), by reason', ['reason']),
      backlogBatches: gauge(reg, 'fieldproof_uplink_backlog_batches', 'Sealed batches not yet acknowledged by the sink'),
      backlogRecords: gauge(reg, 'fieldproof_uplink_backlog_records', 'Records not yet acknowledged by the sink'),
      inFlight: gauge(reg, 'fieldproof_uplink_in_flight', 'Batches on the wire now'),
      lastAck: gauge(reg, 'fieldproof_uplink_last_ack_timestamp_seconds', 'When the sink last acknowledged a batch'),
      seconds: histogram(reg, 'fieldproof_uplink_request_seconds', 'Time from sending a batch to its answer', [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
    };
    this.gate = new ReceiptGate({ device: deps.device, trust: this.trust, journal: deps.journal, log: deps.log, refused: this.m.unacknowledged, errors: this.m.errors, board: deps.board });
    this.halt = new HaltSwitch({ dataDir: deps.dataDir, log: deps.log, board: deps.board });
  }

  async start(): Promise<void> {
    const { config } = this;
    if (config.insecure) this.deps.log.warn({ url: this.base }, 'uplink.insecure: true: batches and receipts may cross the network unencrypted');
    this.trust.start();
    this.client.start();
    if (config.maxBytesPerSecond) this.bucket = new TokenBucket(config.maxBytesPerSecond);
    this.ackCursor = this.deps.journal.ackedBatch;
    this.next = this.ackCursor + 1;
    this.needResync = true;
    this.running = true;
    this.halt.load();
    this.unsubscribe = this.deps.journal.onSealed(() => this.pump());
    this.pollTimer = setInterval(() => this.pump(), 1000);
    this.pollTimer.unref();
    this.publish();
    this.pump();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
    this.client.abort();
    this.bodies.clear();
    await Promise.allSettled([...this.inFlight.values()]);
    await this.resyncing;
    await this.ackChain;
    await this.client.stop();
  }

  /** Resolves once every batch sealed so far is acknowledged (the bench, the demo, tests). */
  async drained(timeoutMs = 60_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const s = this.deps.journal.stats();
      if (s.ackedBatch >= s.lastBatch && this.inFlight.size === 0) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  private pump(): void {
    if (!this.running || this.halt.halted) return;
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) {
      if (!this.wakeTimer) {
        this.wakeTimer = setTimeout(() => {
          this.wakeTimer = null;
          this.pump();
        }, wait);
        this.wakeTimer.unref();
      }
      return;
    }
    if (this.needResync) {
      this.resyncing ??= this.resync().finally(() => {
        this.resyncing = null;
        this.pump();
      });
      return;
    }
    this.publish();
    const last = this.deps.journal.stats().lastBatch;
    while (this.inFlight.size < this.config.inFlight && this.next <= last) {
      const b = this.next++;
      if (b <= this.ackCursor || this.acked.has(b) || this.inFlight.has(b)) continue;
      const p = this.send(b).then((outcome) => this.settle(b, outcome));
      this.inFlight.set(b, p);
      p.finally(() => {
        this.inFlight.delete(b);
        this.m.inFlight.set(this.inFlight.size);
        this.pump();
      });
    }
    // The next window's bodies, made while these are on the wire.
    this.bodies.prepare(this.next, Math.min(last, this.next + this.config.inFlight - 1));
    this.m.inFlight.set(this.inFlight.size);
  }

  /** Ask the sink what it holds, so that a restart neither resends everything nor deletes anything unheld. */
  private async resync(): Promise<void> {
    try {
      const res = await this.call('GET', `/v1/devices/${encodeURIComponent(this.deps.device)}/head`);
      if (res.status !== 200) throw new Error(`sink answered ${res.status} to the head query: ${String(res.body.error ?? '')}`);
      const have = Number(res.body.batch);
      if (!Number.isSafeInteger(have) || have < 0) throw new Error('the head answer names no batch number');
      const journal = this.deps.journal;
      // The head moves the device forward only under a receipt for it from the trusted sink.
      const head: HeadAnswer = { epoch: Number(res.body.epoch ?? 1), batch: have, hash: String(res.body.hash), header: res.body.header, receipt: res.body.receipt };
      // A head held as pruned moves it forward only when the device dropped that batch too (a
      // batch of the journal's own epoch: another epoch's numbers name other batches).
      const holdsRecords = head.epoch === journal.epoch && have > journal.ackedBatch && journal.header(have) !== null && !journal.isPruned(have);
      if (have > this.ackCursor && !this.gate.holds(res.body.receipt, have, head.hash, 'head', holdsRecords)) return this.fail('head_unacknowledged');
      const relation = chainRelation(journal, head);
      if (relation === 'diverged') {
        // The journal was lost or restored from an older copy: a new epoch, then ask again. The
        // answers still on their way are about the old chain: they settle first.
        await Promise.allSettled([...this.inFlight.values()]);
        await this.ackChain;
        const why = await this.recovery.restartFrom(head);
        if (why) return this.fail(why);
        this.acked.clear();
        this.bodies.clear();
        this.ackCursor = journal.ackedBatch;
        this.next = this.ackCursor + 1;
        return;
      }
      if (relation === 'same' && have > journal.ackedBatch) {
        await this.gate.keep(res.body.receipt as Receipt);
        await this.ackThrough(have);
      } else if (relation === 'same' && have < journal.ackedBatch) {
        this.deps.log.error({ sinkHas: have, ackedBatch: journal.ackedBatch }, 'the sink holds fewer batches than it acknowledged before (restored from an old backup?); the acknowledged batches are gone from this device');
      }
      // A journal ahead (a new epoch the sink has not accepted yet) sends from its own cursor.
      this.next = relation === 'same' ? Math.max(this.ackCursor, have) + 1 : this.ackCursor + 1;
      this.needResync = false;
      this.failures = 0;
    } catch (err) {
      if (!this.running) return;
      this.m.errors.inc({ reason: err instanceof AnswerTooLarge ? 'answer_too_large' : 'unreachable' });
      this.deps.log.warn({ err: (err as Error).message }, 'sink not reachable');
      this.fail('unreachable');
    }
  }

  private async send(batch: number): Promise<SendOutcome> {
    let payload;
    try {
      payload = await this.bodies.take(batch);
    } catch (err) {
      this.deps.log.error({ batch, err: (err as Error).message }, 'cannot read the batch from the journal');
      this.m.errors.inc({ reason: 'journal' });
      return 'retry';
    }
    if (!payload) return 'acked'; // the journal no longer holds it: acknowledged (or being so) meanwhile
    if (payload === NOT_READY) return 'wait';
    if (this.bucket) {
      const wait = this.bucket.take(payload.body.length);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const started = performance.now();
    let res: SinkReply;
    try {
      // The backlog rides along, unsigned and informational, for the sink's fleet view.
      const backlog = String(this.deps.journal.stats().unsentRecords);
      res = await this.call('POST', '/v1/batches', payload.body, { 'content-type': payload.type, 'content-encoding': 'gzip', 'x-fieldproof-backlog': backlog });
    } catch (err) {
      if (!this.running) return 'retry';
      this.m.errors.inc({ reason: err instanceof AnswerTooLarge ? 'answer_too_large' : 'unreachable' });
      this.deps.log.warn({ batch, err: (err as Error).message }, 'sending a batch failed');
      return 'retry';
    }
    this.m.seconds.observe((performance.now() - started) / 1000);
    this.m.bytes.inc(payload.body.length);
    const code = String(res.body.code ?? res.body.status ?? res.status);
    if (res.status === 200) {
      const header = this.deps.journal.header(batch);
      // A receipt that the sink holds this batch as pruned acknowledges only a batch sent as pruned.
      if (header && !this.gate.holds(res.body.receipt, batch, headerHash(header), 'batch', payload.records > 0)) {
        this.m.sent.inc({ outcome: 'unacknowledged' });
        return 'retry';
      }
      this.m.sent.inc({ outcome: String(res.body.status ?? 'stored') });
      this.m.records.inc(payload.records);
      if (header) await this.gate.keep(res.body.receipt as Receipt);
      return 'acked';
    }
    this.m.sent.inc({ outcome: code });
    if (res.status === 409 && res.body.code === 'out_of_order') {
      this.deps.log.warn({ batch, have: res.body.have, reason: res.body.error }, 'the sink wants another batch first');
      return 'rewind';
    }
    if (code === 'equivocation' || code === 'wrong_key' || code === 'bad_restart') {
      this.halt.stop({ code, epoch: this.deps.journal.epoch, batch, error: String(res.body.error ?? code), at: Date.now() });
      return 'retry';
    }
    if (code === 'restart_pending') {
      // Only an admin changes this: ask again after the longest backoff, not sooner.
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + this.config.backoffMaxMs);
      this.deps.board?.set('uplink.restartPending', { epoch: this.deps.journal.epoch, retryInMs: this.config.backoffMaxMs, at: Date.now() });
    }
    this.m.errors.inc({ reason: code });
    // The sink said when to come back (too busy, or this address over its limits): not before then.
    if (res.retryAfterMs > 0) this.pausedUntil = Math.max(this.pausedUntil, Date.now() + res.retryAfterMs);
    const log = res.status >= 500 ? this.deps.log.warn.bind(this.deps.log) : this.deps.log.error.bind(this.deps.log);
    log({ batch, status: res.status, code, err: res.body.error }, res.status >= 500 ? 'the sink failed; will retry' : 'the sink refused a batch; will retry after backing off');
    this.deps.board?.set('uplink.lastError', { at: Date.now(), batch, status: res.status, error: res.body.error ?? null });
    return 'retry';
  }

  /** One held batch's answer from the sink (recovery.ts), or null when it does not hold it. */
  private async heldBatch(batch: number, epoch: number, records = false): Promise<{ hash: string; receipt: unknown; header?: unknown; lines?: unknown } | null> {
    const res = await this.call('GET', `/v1/devices/${encodeURIComponent(this.deps.device)}/batches/${batch}?epoch=${epoch}${records ? '&records=true' : ''}`);
    if (res.status === 404) return null;
    if (res.status !== 200) throw new Error(`sink answered ${res.status} to a held batch query: ${String(res.body.error ?? '')}`);
    return { hash: String(res.body.hash), receipt: res.body.receipt, header: res.body.header, lines: res.body.lines };
  }

  private call(method: 'GET' | 'POST', path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<SinkReply> {
    return this.client.call(method, path, body, headers);
  }

  private settle(batch: number, outcome: SendOutcome): void {
    if (outcome === 'acked') {
      this.failures = 0;
      if (this.deps.board?.get('uplink.restartPending')) this.deps.board.set('uplink.restartPending', null);
      void this.enqueueAck(batch);
      return;
    }
    this.next = Math.min(this.next, batch);
    if (!this.running) return;
    if (outcome === 'wait') {
      this.bodies.clear();
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + COVER_WAIT_MS);
      return;
    }
    if (outcome === 'rewind') this.needResync = true;
    this.fail(outcome === 'rewind' ? 'rewind' : 'send_failed');
  }

  private fail(reason: string): void {
    this.failures++;
    this.bodies.clear();
    const { backoffInitialMs, backoffMaxMs } = this.config;
    const cap = Math.min(backoffMaxMs, backoffInitialMs * 2 ** Math.min(this.failures - 1, 30));
    const delay = reason === 'rewind' && this.failures === 1 ? 0 : Math.random() * cap;
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + delay);
    this.lastPublished = '';
    this.deps.board?.set('uplink.state', { state: 'backing-off', reason, retryInMs: Math.round(delay), failures: this.failures });
  }

  /** The sink holds batch b. */
  private enqueueAck(batch: number): Promise<void> {
    this.acked.add(batch);
    return this.advance();
  }

  /** The sink holds every batch through n (its head, verified by hash). */
  private ackThrough(n: number): Promise<void> {
    for (let b = this.ackCursor + 1; b <= n; b++) this.acked.add(b);
    return this.advance();
  }

  /** Acknowledge in the journal through the highest batch that has every one before it held. */
  private advance(): Promise<void> {
    this.ackChain = this.ackChain.then(async () => {
      let through = this.ackCursor;
      while (this.acked.has(through + 1)) through++;
      if (through <= this.ackCursor) return;
      try {
        await this.deps.journal.acknowledge(through);
      } catch (err) {
        this.deps.log.error({ through, err: (err as Error).message }, 'journal acknowledge failed');
        return;
      }
      for (let b = this.ackCursor + 1; b <= through; b++) this.acked.delete(b);
      this.ackCursor = through;
      this.m.lastAck.set(Date.now() / 1000);
      this.publish();
    });
    return this.ackChain;
  }

  private publish(): void {
    const s = this.deps.journal.stats();
    this.m.backlogBatches.set(s.lastBatch - s.ackedBatch);
    this.m.backlogRecords.set(s.unsentRecords);
    // The board feeds the status page live: publish changes, not every pump.
    const key = `${s.ackedBatch}/${s.lastBatch}`;
    if (key === this.lastPublished) return;
    this.lastPublished = key;
    this.deps.board?.set('uplink.state', { state: 'synced', ackedBatch: s.ackedBatch, backlogBatches: s.lastBatch - s.ackedBatch, at: Date.now() });
  }
}
