// Accepting one batch: the device is registered with this key, the header is well formed and
// signed, the records are exactly first..last and hash to the signed root (protocol/batch.ts
// checkBatch), and the batch is the next of the device's chain (the store, atomically). Every
// refusal has its own status and a one-line reason, and is counted.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { checkBatch, headerHash, headerProblem, verifyHeaderSignature, type BatchHeader } from '../protocol/batch.ts';
import { canonicalize } from '../protocol/canonical.ts';
import { rootOfJoined } from './leaves.ts';
import { counter, histogram } from '../kernel/metrics.ts';
import type { DeviceRegistry } from './registry.ts';
import type { ChainSequencer } from './sequencer.ts';
import type { SinkStore } from './store/types.ts';
import type { DecodedBatch } from './wire/errors.ts';

export interface IngestReply {
  status: number;
  body: Record<string, unknown>;
}

export interface IngestDeps {
  store: SinkStore;
  registry: DeviceRegistry;
  sequencer: ChainSequencer;
  log: Logger;
  metrics: Registry;
  chainWaitMs: number;
  now?: () => number;
}

export class Ingest {
  private readonly m;

  private readonly deps: IngestDeps;

  constructor(deps: IngestDeps) {
    this.deps = deps;
    const reg = deps.metrics;
    this.m = {
      batches: counter(reg, 'fieldproof_sink_batches_total', 'Batches offered to the sink, by outcome', ['outcome']),
      records: counter(reg, 'fieldproof_sink_records_stored_total', 'Records stored'),
      refused: counter(reg, 'fieldproof_sink_refused_total', 'Batches refused, by reason', ['reason']),
      equivocations: counter(reg, 'fieldproof_sink_equivocations_total', 'Different batches offered under a number already held'),
      verifySeconds: histogram(reg, 'fieldproof_sink_verify_seconds', 'Time to verify one batch', [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5]),
    };
  }

  private refuse(status: number, reason: string, error: string, extra: Record<string, unknown> = {}): IngestReply {
    this.m.refused.inc({ reason });
    this.m.batches.inc({ outcome: 'refused' });
    this.deps.log.warn({ reason, error, ...extra }, 'batch refused');
    return { status, body: { error, code: reason, ...extra } };
  }

  /** A request that never got as far as a batch (unreadable body, wrong type, too large). */
  refusedBody(status: number, error: string): IngestReply {
    return this.refuse(status, status === 413 ? 'too_large' : status === 415 ? 'unsupported_type' : status === 422 ? 'bad_records' : 'bad_body', error);
  }

  async accept(decoded: DecodedBatch): Promise<IngestReply> {
    const started = performance.now();
    const hp = headerProblem(decoded.header);
    if (hp) return this.refuse(400, 'bad_header', hp);
    const header = decoded.header as BatchHeader;
    const key = await this.deps.registry.keyOf(header.device);
    if (key === null) return this.refuse(403, 'unknown_device', `device ${header.device} is not registered with this sink`, { device: header.device });
    if (key !== header.key) return this.refuse(403, 'wrong_key', `batch ${header.batch} of ${header.device} is signed with key ${header.key}, not the device's registered key`, { device: header.device });

    let text = '';
    let count = 0;
    let minTs: number | null = null;
    let maxTs: number | null = null;
    const ids = { device: header.device, batch: header.batch };
    if (decoded.pruned) {
      const n = decoded.lines ? decoded.lines.length : Array.isArray(decoded.records) ? decoded.records.length : -1;
      if (n !== 0) return this.refuse(400, 'bad_body', 'a pruned batch carries no records');
      if (!verifyHeaderSignature(header)) return this.refuse(422, 'bad_signature', `batch ${header.batch} of ${header.device}: signature does not verify`, ids);
    } else if (decoded.lines) {
      // Columnar: the decoder rebuilt the canonical lines and checked each field; what is left is
      // the signature, the count and the root over exactly these bytes.
      if (!verifyHeaderSignature(header)) return this.refuse(422, 'bad_signature', `batch ${header.batch} of ${header.device}: signature does not verify`, ids);
      if (decoded.lines.length !== header.count) return this.refuse(422, 'bad_records', `batch ${header.batch} of ${header.device}: expected ${header.count} records, got ${decoded.lines.length}`, ids);
      text = decoded.lines.join('\n');
      if (rootOfJoined(text, decoded.lines.length).toString('hex') !== header.root) {
        return this.refuse(422, 'bad_root', `batch ${header.batch} of ${header.device}: root does not match the records`, ids);
      }
      count = decoded.lines.length;
      minTs = decoded.minTs;
      maxTs = decoded.maxTs;
    } else {
      const check = checkBatch(header, decoded.records);
      if (!check.ok) {
        const reason = check.reason === 'signature does not verify' ? 'bad_signature' : check.reason.startsWith('root') ? 'bad_root' : 'bad_records';
        return this.refuse(422, reason, `batch ${header.batch} of ${header.device}: ${check.reason}`, ids);
      }
      const records = decoded.records as Record<string, unknown>[];
      const lines: string[] = new Array(records.length);
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        lines[i] = canonicalize(r);
        if (r.kind === 'reading') {
          const ts = r.ts as number;
          if (minTs === null || ts < minTs) minTs = ts;
          if (maxTs === null || ts > maxTs) maxTs = ts;
        }
      }
      text = lines.join('\n');
      count = lines.length;
    }
    this.m.verifySeconds.observe((performance.now() - started) / 1000);

    const hash = headerHash(header);
    const receivedAt = (this.deps.now ?? Date.now)();
    const outcome = await this.deps.sequencer.commit(header.device, header.batch, this.deps.chainWaitMs, () =>
      this.deps.store.commitBatch({ header, hash, text, pruned: decoded.pruned, minTs, maxTs, receivedAt }));
    switch (outcome.status) {
      case 'stored':
        this.m.batches.inc({ outcome: decoded.pruned ? 'stored_pruned' : 'stored' });
        this.m.records.inc(count);
        return { status: 200, body: { status: 'stored', ...ids, hash } };
      case 'duplicate':
        this.m.batches.inc({ outcome: 'duplicate' });
        return { status: 200, body: { status: 'duplicate', ...ids, hash } };
      case 'equivocation': {
        this.m.equivocations.inc();
        await this.deps.store.reportEquivocation({ ...ids, storedHash: outcome.storedHash, offeredHash: hash, offeredHeader: header, reportedAt: receivedAt });
        this.deps.log.error({ ...ids, storedHash: outcome.storedHash, offeredHash: hash }, 'device equivocates: a different batch under a number already held');
        return this.refuse(409, 'equivocation', `batch ${header.batch} of ${header.device} differs from the batch already held under that number; reported`, { ...ids, storedHash: outcome.storedHash });
      }
      case 'out_of_order':
        return this.refuse(409, 'out_of_order', outcome.reason, { ...ids, have: outcome.have });
    }
  }
}
