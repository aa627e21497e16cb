// Building signed batches and talking to a sink, for the tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { headerHash, signBatch as signProtocolBatch, type Batch } from '../../protocol/batch.ts';
import { ZERO_HASH } from '../../protocol/hash.ts';
import { gapRecord, readingRecord, type JournalRecord } from '../../protocol/records.ts';
import type { DeviceKey } from '../../protocol/signature.ts';
import { encodeColumnar, COLUMNAR_CONTENT_TYPE } from '../../protocol/columnar/encoder.ts';

export { makeChain } from '../../bench/signed-chain.ts';

export function tempDir(prefix = 'fieldproof-sink-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function signBatch(device: string, key: DeviceKey, batch: number, records: JournalRecord[], prev: string, created = 1763884800000 + batch): Batch {
  return signProtocolBatch(device, key, batch, records, prev, created);
}


export interface Reply {
  status: number;
  body: Record<string, unknown>;
}

export async function postRaw(url: string, body: Buffer | string, headers: Record<string, string>): Promise<Reply> {
  const res = await request(`${url}/v1/batches`, { method: 'POST', body, headers });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : {} };
}

export function postJson(url: string, batch: Batch | { header: unknown; records: unknown; pruned?: boolean }, gzip = false): Promise<Reply> {
  const text = JSON.stringify(batch);
  return gzip
    ? postRaw(url, gzipSync(text), { 'content-type': 'application/json', 'content-encoding': 'gzip' })
    : postRaw(url, text, { 'content-type': 'application/json' });
}

export function postColumnar(url: string, batch: Batch, pruned = false): Promise<Reply> {
  const body = gzipSync(encodeColumnar(batch.header, batch.records as unknown as Record<string, unknown>[], pruned));
  return postRaw(url, body, { 'content-type': COLUMNAR_CONTENT_TYPE, 'content-encoding': 'gzip' });
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await request(url, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, body: text.startsWith('{') ? JSON.parse(text) : { text } };
}

/** Drop a PostgreSQL schema a test worked in, and all it holds (as a bench run's; pg loaded only when asked). */
export async function dropPgSchema(url: string, schema: string): Promise<void> {
  const { dropSchema } = await import('../../bench/postgres-use.ts');
  await dropSchema(url, schema);
}
