// Reading a batch request as it arrives: the wire size and, through a streaming gunzip, the
// decoded size are counted chunk by chunk and the body is refused the moment either is over its
// limit (a gzip bomb stops after `maxDecodedBytes`, not after inflating); the JSON envelope is
// scanned for depth and record count on the way in (json-envelope.ts); and as soon as the header
// has arrived the caller checks it (known device, key, signature) before a record is decoded,
// and may answer at once without reading the rest. The usual batch, a few kilobytes that arrive
// in one read, is inflated in one call capped at the header window instead of through the stream.
import type { IncomingMessage } from 'node:http';
import { createGunzip, gunzipSync } from 'node:zlib';
import { ColumnarError, COLUMNAR_CONTENT_TYPE, decodeColumnar, readColumnarHead, type ColumnarErrorReason } from '../../protocol/columnar/decoder.ts';
import { WireError, type DecodedBatch } from './errors.ts';
import { JsonEnvelopeScanner, MAX_HEADER_BYTES } from './json-envelope.ts';

export interface BodyLimits {
  /** as sent, compressed or not */
  maxBodyBytes: number;
  /** after gunzip */
  maxDecodedBytes: number;
  maxRecords: number;
  /** nesting of the JSON body, the envelope object being level 1 */
  maxJsonDepth: number;
}

/** What the caller decided about the header: read the records on (at most `records` of them), or answer now. */
export type HeaderVerdict<T> = { proceed: true; records: number } | { proceed: false; answer: T };

export type BatchRead<T> = { decoded: DecodedBatch } | { answered: T };

export type HeaderCheck<T> = (header: unknown) => Promise<HeaderVerdict<T>>;

/**
 * Bytes of bodies held by all requests at once. Before its header is verified a body may hold
 * only HEADER_WINDOW_BYTES; after, its bytes count here, and a request that would go over the
 * total is refused (429) rather than making the sink hold more.
 */
export class BodyBudget {
  private held = 0;

  readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.held;
  }

  take(n: number): boolean {
    if (this.held + n > this.maxBytes) return false;
    this.held += n;
    return true;
  }

  give(n: number): void {
    this.held -= n;
  }
}

/** The header must arrive within a body's first bytes: an unverified client holds no more than this. */
export const HEADER_WINDOW_BYTES = 64 * 1024;

const GUNZIP_CHUNK_BYTES = 64 * 1024;

type Format = 'json' | 'columnar';

/** Content type and encoding, checked before a byte of the body is read. */
function formatOf(req: IncomingMessage, limits: BodyLimits): { format: Format; gzip: boolean } {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
    throw new WireError(`body of ${declared} bytes is over the limit of ${limits.maxBodyBytes}`, 413);
  }
  const enc = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (enc !== 'gzip' && enc !== 'identity') throw new WireError(`content encoding ${enc.slice(0, 40)} is not supported (gzip or none)`, 415);
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === COLUMNAR_CONTENT_TYPE) return { format: 'columnar', gzip: enc === 'gzip' };
  if (type === 'application/json' || type === '') return { format: 'json', gzip: enc === 'gzip' };
  throw new WireError(`content type ${type.slice(0, 60)} is not supported (application/json or ${COLUMNAR_CONTENT_TYPE})`, 415);
}

/**
 * The first chunk of a request's body, with the request paused after it (nothing is lost: what
 * follows waits in the stream); null when the body ends without one. A small body mostly arrives
 * in one read, and then it is all here at once, for the cost of one listener rather than an async
 * iterator or a stream pipeline.
 */
function firstChunk(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const settle = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    const onData = (chunk: Buffer) => {
      settle();
      req.pause();
      resolve(chunk);
    };
    const onEnd = () => {
      settle();
      resolve(null);
    };
    const onGone = () => {
      settle();
      reject(new WireError('the client went away mid-body'));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onGone);
    req.once('close', onGone);
  });
}

/**
 * A small gzip body inflated in one call, or null when it inflates to more than `cap` bytes (the
 * work stops there) or does not inflate at all. With `cap` no more than the header window this
 * holds and inflates no more than the streaming path does before the header is checked, and skips
 * the stream's per-chunk hand-offs to the thread pool, which cost more than inflating a batch of a
 * few kilobytes. A body it cannot take goes through the stream, which refuses it as it always did
 * (a broken body may show a bad envelope before its bad gzip, and that is what the client is told).
 */
function inflateWithin(wire: Buffer, cap: number): Buffer | null {
  try {
    return gunzipSync(wire, { maxOutputLength: cap });
  } catch {
    return null;
  }
}

/**
 * The body's bytes after gunzip, as they arrive. The wire bytes are counted as they come in (a
 * chunked body has no Content-Length to check first); breaking out of the loop stops the
 * inflater and leaves the request to the HTTP layer, which closes the connection. A body that
 * declares no more than the header window and arrives in one read is inflated in one call and,
 * when it inflates within the window too, yielded as one chunk; one that comes in pieces goes
 * through the stream, so that its header is checked as soon as it is there.
 */
async function* decodedChunks(req: IncomingMessage, gzip: boolean, limits: BodyLimits): AsyncGenerator<Buffer> {
  let wire = 0;
  let decoded = 0;
  const maxDecoded = gzip ? limits.maxDecodedBytes : Math.min(limits.maxBodyBytes, limits.maxDecodedBytes);
  const declared = Number(req.headers['content-length']);
  // read already, and to go first into the stream below
  let first: Buffer | null = null;
  if (Number.isSafeInteger(declared) && declared > 0 && declared <= HEADER_WINDOW_BYTES) {
    first = await firstChunk(req);
    if (first !== null && first.length === declared) {
      const inflated = gzip ? inflateWithin(first, Math.min(HEADER_WINDOW_BYTES, maxDecoded)) : first;
      if (inflated !== null) {
        if (inflated.length > maxDecoded) throw new WireError(`body is over the limit of ${maxDecoded} bytes`, 413);
        if (inflated.length > 0) yield inflated;
        return;
      }
    }
  }
  if (!gzip) {
    try {
      if (first !== null) {
        decoded += first.length;
        if (decoded > maxDecoded) throw new WireError(`body is over the limit of ${maxDecoded} bytes`, 413);
        yield first;
      }
      for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        decoded += chunk.length;
        if (decoded > maxDecoded) throw new WireError(`body is over the limit of ${maxDecoded} bytes`, 413);
        yield chunk;
      }
    } catch (err) {
      throw err instanceof WireError ? err : new WireError('the client went away mid-body');
    }
    return;
  }
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
  const countWire = (chunk: Buffer) => {
    wire += chunk.length;
    if (wire > limits.maxBodyBytes) gunzip.destroy(new WireError(`body is over the limit of ${limits.maxBodyBytes} bytes`, 413));
  };
  const wentAway = () => gunzip.destroy(new WireError('the client went away mid-body'));
  req.on('data', countWire);
  req.once('aborted', wentAway);
  req.once('error', wentAway);
  if (first !== null) {
    countWire(first);
    gunzip.write(first);
  }
  req.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      decoded += chunk.length;
      if (decoded > maxDecoded) throw new WireError(`body is over the limit of ${maxDecoded} bytes once decompressed`, 413);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof WireError) throw err;
    throw new WireError(`gzip body does not decompress: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    req.unpipe(gunzip);
    req.off('data', countWire);
    req.off('aborted', wentAway);
    req.off('error', wentAway);
    gunzip.destroy();
  }
}

/** Where the header is, for each format: found by the JSON scanner or at the front of a columnar body. */
interface HeadFinder {
  push(chunk: Buffer, all: Buffer[], size: number): { header: unknown } | null;
  limitRecords(records: number): void;
}

function jsonHead(limits: BodyLimits): HeadFinder & { scanner: JsonEnvelopeScanner } {
  const scanner = new JsonEnvelopeScanner(limits.maxJsonDepth, limits.maxRecords);
  let found = false;
  return {
    scanner,
    push(chunk) {
      scanner.push(chunk);
      const bytes = scanner.headerBytes;
      if (found || bytes === null) return null;
      found = true;
      let header: unknown;
      try {
        header = JSON.parse(bytes.toString('utf8'));
      } catch (err) {
        throw new WireError(`body.header is not valid JSON: ${(err as Error).message.split('\n')[0]}`);
      }
      return { header };
    },
    limitRecords: (records) => scanner.limitRecords(records),
  };
}

function columnarHead(limits: BodyLimits): HeadFinder {
  let found = false;
  let count = 0;
  return {
    push(_chunk, all, size) {
      if (found) return null;
      const head = readColumnarHead(all.length === 1 ? all[0]! : Buffer.concat(all, size), MAX_HEADER_BYTES);
      if (head === null) {
        if (size > MAX_HEADER_BYTES + 64) throw new WireError('columnar body has no complete header in its first bytes');
        return null;
      }
      found = true;
      count = head.count;
      if (count > limits.maxRecords) throw new WireError(`batch has ${count} records, more than the sink's limit of ${limits.maxRecords}`, 413);
      return { header: head.header };
    },
    limitRecords(records) {
      if (count > records) throw new WireError(`batch carries ${count} records, more than its header's ${records}`, 422);
    },
  };
}

/**
 * Read a batch request. `checkHeader` runs once, as soon as the header has arrived, before any
 * record is decoded; when it answers, the rest of the body is not read.
 */
export async function readBatchBody<T>(req: IncomingMessage, limits: BodyLimits, budget: BodyBudget, checkHeader: HeaderCheck<T>): Promise<BatchRead<T>> {
  const { format, gzip } = formatOf(req, limits);
  const finder = format === 'json' ? jsonHead(limits) : columnarHead(limits);
  const chunks: Buffer[] = [];
  let size = 0;
  let budgeted = 0;
  let checked = false;
  let verifiedHeader: unknown;
  try {
    for await (const chunk of decodedChunks(req, gzip, limits)) {
      chunks.push(chunk);
      size += chunk.length;
      if (checked) {
        if (!budget.take(chunk.length)) throw new WireError(`the sink holds ${budget.maxBytes} bytes of bodies being read already; retry later`, 429);
        budgeted += chunk.length;
      }
      const head = finder.push(chunk, chunks, size);
      if (head === null) {
        if (!checked && size > HEADER_WINDOW_BYTES) throw new WireError(`the header must come within the first ${HEADER_WINDOW_BYTES} bytes of the body`);
        continue;
      }
      const verdict = await checkHeader(head.header);
      if (!verdict.proceed) return { answered: verdict.answer };
      finder.limitRecords(verdict.records);
      checked = true;
      verifiedHeader = head.header;
      if (!budget.take(size)) throw new WireError(`the sink holds ${budget.maxBytes} bytes of bodies being read already; retry later`, 429);
      budgeted = size;
    }
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    if (format === 'json') {
      (finder as ReturnType<typeof jsonHead>).scanner.finish();
      if (!checked) throw new WireError('body has no header');
      return { decoded: decodeJson(body, verifiedHeader) };
    }
    if (!checked) throw new WireError(size === 0 ? 'body is empty' : 'columnar body is truncated before its records');
    return { decoded: decodeColumnarBody(body, limits) };
  } catch (err) {
    if (err instanceof ColumnarError) throw new WireError(err.message, COLUMNAR_STATUS[err.reason]);
    throw err;
  } finally {
    budget.give(budgeted);
  }
}

const COLUMNAR_STATUS: Record<ColumnarErrorReason, number> = { malformed: 400, too_many_records: 413, bad_record: 422 };

/** The same nesting bound as a JSON body's (limits.maxJsonDepth): one batch, taken or refused alike in either encoding. */
function decodeColumnarBody(bytes: Buffer, limits: BodyLimits): DecodedBatch {
  try {
    return decodeColumnar(bytes, limits.maxRecords, MAX_HEADER_BYTES, limits.maxJsonDepth);
  } catch (err) {
    if (err instanceof ColumnarError) throw new WireError(err.message, COLUMNAR_STATUS[err.reason]);
    throw err;
  }
}

/** The scanner has bounded depth and record count and found exactly header, records, pruned, cover. */
function decodeJson(bytes: Buffer, header: unknown): DecodedBatch {
  let body: { records: unknown; pruned?: boolean; cover?: unknown };
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new WireError(`body is not valid JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  return { header, records: body.records, pruned: body.pruned === true, ...(body.cover !== undefined ? { cover: body.cover } : {}) };
}

/** A small request body (the admin API's), refused with 413 beyond `maxBytes`. */
export async function readSmallBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw new WireError(`body of ${declared} bytes is over the limit of ${maxBytes}`, 413);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw new WireError(`body is over the limit of ${maxBytes} bytes`, 413);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof WireError) throw err;
    throw new WireError('the client went away mid-body');
  }
  return Buffer.concat(chunks, size);
}
