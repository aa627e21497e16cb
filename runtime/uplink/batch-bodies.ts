// Request bodies of the batches about to be sent, made ahead of the send window. Reading a batch
// from the journal and encoding it is most of the uplink's work; done only when a slot frees, the
// device would encode while the sink waits and the sink verify while the device waits, the two
// taking turns instead of working at once. Made ahead, one at a time in batch order, a body is
// ready when its slot frees, and the first of a run is ready after one encoding rather than after
// all of them. Batches are immutable once sealed, so a body made early is the body made late.
import { gzip, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import type { BatchHeader } from '../../protocol/batch.ts';
import { canonicalize } from '../../protocol/canonical.ts';
import type { Journal } from '../journal/journal.ts';
import { COLUMNAR_CONTENT_TYPE, encodeColumnarLines } from '../../protocol/columnar/encoder.ts';

const gzipAsync = promisify(gzip);

/**
 * Bodies up to this size are compressed on the main thread: zlib's asynchronous one-shot costs
 * three to four times the CPU of the synchronous one for a batch-sized body (the hand-over to the
 * thread pool and back dominates). Larger ones (plain JSON of big batches) go to the pool so that
 * the event loop is not held for long.
 */
const INLINE_GZIP_BYTES = 256 * 1024;

export interface BatchBody {
  body: Buffer;
  type: string;
  records: number;
}

/** A pruned batch whose cover (the signed gap record naming it) is not sealed yet: nothing to send for now. */
export const NOT_READY = 'not_ready';

export interface BatchBodiesOptions {
  encoding: 'columnar' | 'json';
  gzipLevel: number;
}

type Source = Pick<Journal, 'readBatchLines' | 'pruneCover'>;

export class BatchBodies {
  private readonly made = new Map<number, Promise<BatchBody | typeof NOT_READY | null>>();
  /** reading and encoding, one batch at a time */
  private encoding: Promise<unknown> = Promise.resolve();

  private readonly journal: Source;
  private readonly options: BatchBodiesOptions;

  constructor(journal: Source, options: BatchBodiesOptions) {
    this.journal = journal;
    this.options = options;
  }

  /** Start making the bodies of batches from..to not made yet; drop any made for batches before from. */
  prepare(from: number, to: number): void {
    for (const b of this.made.keys()) if (b < from) this.made.delete(b);
    for (let b = from; b <= to; b++) if (!this.made.has(b)) this.made.set(b, this.make(b));
  }

  /** The body of a batch (null when the journal no longer holds it), made now if not made ahead. */
  take(batch: number): Promise<BatchBody | typeof NOT_READY | null> {
    const p = this.made.get(batch) ?? this.make(batch);
    this.made.delete(batch);
    return p;
  }

  /** Forget the bodies made ahead (after a failure the uplink starts over from what the sink holds). */
  clear(): void {
    this.made.clear();
  }

  get size(): number {
    return this.made.size;
  }

  private make(batch: number): Promise<BatchBody | typeof NOT_READY | null> {
    const encoded = this.encoding.then(() => this.encode(batch));
    this.encoding = encoded.catch(() => undefined);
    const body = encoded.then(async (e) => (e && e !== NOT_READY ? { body: await this.compress(e.raw), type: e.type, records: e.records } : e));
    // A body made ahead and then dropped must not surface as an unhandled rejection.
    body.catch(() => undefined);
    return body;
  }

  private compress(raw: Buffer): Buffer | Promise<Buffer> {
    const options = { level: this.options.gzipLevel };
    return raw.length <= INLINE_GZIP_BYTES ? gzipSync(raw, options) : gzipAsync(raw, options);
  }

  private async encode(batch: number): Promise<{ raw: Buffer; type: string; records: number } | typeof NOT_READY | null> {
    const b = await this.journal.readBatchLines(batch);
    if (!b) return null;
    if (b.pruned) {
      // A header without records goes with the device's signed word for the drop, always as JSON
      // (the columnar encoding has no room for it, and the body is a few hundred bytes).
      const cover = await this.journal.pruneCover(batch);
      if (!cover) return NOT_READY;
      return { raw: Buffer.from(`{"header":${canonicalize(b.header)},"records":[],"pruned":true,"cover":${canonicalize(cover)}}`, 'utf8'), type: 'application/json', records: 0 };
    }
    if (this.options.encoding === 'columnar') return { raw: encodeColumnarLines(b.header, b.lines, b.pruned), type: COLUMNAR_CONTENT_TYPE, records: b.lines.length };
    return { raw: jsonBody(b.header, b.lines, b.pruned), type: 'application/json', records: b.lines.length };
  }
}

/** The journal's lines are already canonical JSON: spliced in rather than parsed and re-serialised. */
function jsonBody(header: BatchHeader, lines: readonly string[], pruned: boolean): Buffer {
  return Buffer.from(`{"header":${canonicalize(header)},"records":[${lines.join(',')}]${pruned ? ',"pruned":true' : ''}}`, 'utf8');
}
