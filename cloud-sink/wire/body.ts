// Reading a batch request: size limits on the wire and after gunzip, then JSON or the columnar
// encoding, as the content type says.
import type { IncomingMessage } from 'node:http';
import { gunzip, gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import { ColumnarError, COLUMNAR_CONTENT_TYPE, decodeColumnar, type ColumnarErrorReason } from '../../protocol/columnar/decoder.ts';
import { WireError, type DecodedBatch } from './errors.ts';

const gunzipAsync = promisify(gunzip);

/**
 * Output up to which a body is inflated on the main thread. zlib's asynchronous one-shot costs
 * three to four times the CPU of the synchronous one for a batch-sized body (the hand-over to the
 * thread pool and back dominates), and a batch body inflates to tens of kilobytes; one that does
 * not fit is inflated again in the pool, so a small body that inflates to a lot never blocks the
 * sink for more than about a millisecond.
 */
const INLINE_GUNZIP_BYTES = 1024 * 1024;

function tooLarge(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || /larger than|too large/i.test((err as Error).message);
}

async function inflate(body: Buffer, maxOutputLength: number): Promise<Buffer> {
  if (maxOutputLength <= INLINE_GUNZIP_BYTES) return gunzipSync(body, { maxOutputLength });
  try {
    return gunzipSync(body, { maxOutputLength: INLINE_GUNZIP_BYTES });
  } catch (err) {
    if (!tooLarge(err)) throw err;
    return gunzipAsync(body, { maxOutputLength });
  }
}

export interface BodyLimits {
  maxBodyBytes: number;
  maxDecodedBytes: number;
  maxRecords: number;
}

/** The raw bytes of a request, refused with 413 beyond the limit without reading the rest. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      req.resume();
      reject(new WireError(`body of ${declared} bytes is over the limit of ${maxBytes}`, 413));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(new WireError(`body is over the limit of ${maxBytes} bytes`, 413));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (Number.isFinite(declared) && size !== declared) reject(new WireError(`body is truncated: ${size} of ${declared} bytes`));
      else resolve(Buffer.concat(chunks, size));
    });
    req.on('aborted', () => reject(new WireError('the client went away mid-body')));
    req.on('error', (err) => reject(new WireError(`cannot read the body: ${err.message}`)));
  });
}

export async function decodeBatchBody(body: Buffer, contentType: string | undefined, contentEncoding: string | undefined, limits: BodyLimits): Promise<DecodedBatch> {
  let bytes = body;
  const enc = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (enc === 'gzip') {
    try {
      bytes = await inflate(body, limits.maxDecodedBytes);
    } catch (err) {
      if (tooLarge(err)) {
        throw new WireError(`body is over the limit of ${limits.maxDecodedBytes} bytes once decompressed`, 413);
      }
      throw new WireError(`gzip body does not decompress: ${(err as Error).message.split('\n')[0]}`);
    }
  } else if (enc !== 'identity') {
    throw new WireError(`content encoding ${enc} is not supported (gzip or none)`, 415);
  }
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === COLUMNAR_CONTENT_TYPE) return decodeColumnarBody(bytes, limits.maxRecords);
  if (type === 'application/json' || type === '') return decodeJson(bytes, limits.maxRecords);
  throw new WireError(`content type ${type} is not supported (application/json or ${COLUMNAR_CONTENT_TYPE})`, 415);
}

const COLUMNAR_STATUS: Record<ColumnarErrorReason, number> = { malformed: 400, too_many_records: 413, bad_record: 422 };

function decodeColumnarBody(bytes: Buffer, maxRecords: number): DecodedBatch {
  try {
    return decodeColumnar(bytes, maxRecords);
  } catch (err) {
    if (err instanceof ColumnarError) throw new WireError(err.message, COLUMNAR_STATUS[err.reason]);
    throw err;
  }
}

function decodeJson(bytes: Buffer, maxRecords: number): DecodedBatch {
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new WireError(`body is not valid JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new WireError('body must be an object {"header": ..., "records": [...]}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!['header', 'records', 'pruned'].includes(k)) throw new WireError(`body has an unknown field ${k}`);
  if (!Array.isArray(b.records)) throw new WireError('body.records must be an array');
  if (b.records.length > maxRecords) throw new WireError(`batch has ${b.records.length} records, more than the sink's limit of ${maxRecords}`, 413);
  if (b.pruned !== undefined && b.pruned !== true && b.pruned !== false) throw new WireError('body.pruned must be true or absent');
  return { header: b.header, records: b.records, pruned: b.pruned === true };
}
