import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkBatch, type Batch } from '../batch.ts';
import { canonicalize } from '../canonical.ts';
import { encodeColumnar, encodeColumnarLines } from './encoder.ts';
import { decodeColumnar } from './decoder.ts';

const dir = (f: string) => fileURLToPath(new URL(`./testcases/v1/${f}`, import.meta.url));

describe('columnar-v1 golden case', () => {
  const batch = JSON.parse(readFileSync(dir('batch.json'), 'utf8')) as Batch;
  const body = Buffer.from(readFileSync(dir('body.hex'), 'utf8').replace(/\s/g, ''), 'hex');

  it('is a valid signed batch', () => {
    assert.equal(checkBatch(batch.header, batch.records).ok, true);
  });

  it('encodes to exactly the recorded bytes, from records and from lines', () => {
    assert.equal(encodeColumnar(batch.header, batch.records as unknown as Record<string, unknown>[]).toString('hex'), body.toString('hex'));
    assert.equal(encodeColumnarLines(batch.header, batch.records.map((r) => canonicalize(r))).toString('hex'), body.toString('hex'));
  });

  it('decodes the recorded bytes to the canonical records', () => {
    const d = decodeColumnar(body, 1000);
    assert.deepEqual(d.header, batch.header);
    assert.deepEqual(d.lines, batch.records.map((r) => canonicalize(r)));
  });
});
