import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prng } from '../../kernel/prng.ts';
import { WireError } from './errors.ts';
import { JsonEnvelopeScanner, MAX_COVER_BYTES } from './json-envelope.ts';

const HEADER = { v: 1, device: 'site-a', batch: 3, note: 'a "quoted" \\ [bracket] {brace}' };

/** Random JSON values with strings full of what a scanner could trip on. */
function randomValue(r: () => number, depth: number): unknown {
  const pick = Math.floor(r() * (depth > 0 ? 7 : 4));
  switch (pick) {
    case 0: return Math.round(r() * 1e6) / 100;
    case 1: return ['"', '\\', '[', ']', '{', '}', ',', ':', 'é', '\u2028', '\\"', '"]}'][Math.floor(r() * 12)]!.repeat(1 + Math.floor(r() * 3));
    case 2: return r() < 0.5 ? null : r() < 0.5;
    case 3: return 'plain text';
    case 4: return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth - 1));
    default: return Object.fromEntries(Array.from({ length: Math.floor(r() * 4) }, (_, i) => [`k${i}"[`, randomValue(r, depth - 1)]));
  }
}

function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (v !== null && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

/** Feed `text` in random pieces, down to one byte, so that every state crosses a chunk boundary somewhere. */
function scan(text: string | Buffer, r: () => number, maxDepth = 64, maxRecords = 1e6): JsonEnvelopeScanner {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const s = new JsonEnvelopeScanner(maxDepth, maxRecords);
  for (let i = 0; i < bytes.length;) {
    const n = 1 + Math.floor(r() * (r() < 0.3 ? 3 : 200));
    s.push(bytes.subarray(i, i + n));
    i += n;
  }
  s.finish();
  return s;
}

function refuses(text: string, pattern: RegExp, opts: { depth?: number; records?: number; status?: number } = {}): void {
  assert.throws(() => scan(text, prng(1), opts.depth, opts.records), (e: unknown) => {
    assert.ok(e instanceof WireError, String(e));
    assert.match(e.message, pattern);
    if (opts.status) assert.equal(e.status, opts.status);
    return true;
  });
}

describe('JSON envelope scanner', () => {
  it('counts records and finds the header exactly as JSON.parse reads them, over any chunking', () => {
    const r = prng(42);
    for (let round = 0; round < 400; round++) {
      const records = Array.from({ length: Math.floor(r() * 12) }, () => randomValue(r, 4));
      const pruned = r() < 0.3 ? { pruned: r() < 0.5 } : {};
      const space = r() < 0.5 ? 2 : undefined;
      const text = JSON.stringify({ header: HEADER, records, ...pruned }, null, space);
      const s = scan(text, r);
      assert.equal(s.records, records.length, text);
      assert.deepEqual(JSON.parse(s.headerBytes!.toString('utf8')), HEADER);
      assert.ok(s.complete);
    }
  });

  it('refuses a body nested deeper than the limit, and takes one exactly at it', () => {
    const r = prng(7);
    for (let round = 0; round < 200; round++) {
      const records = [randomValue(r, 6)];
      const text = JSON.stringify({ header: HEADER, records });
      const depth = 2 + depthOf(records[0]);
      const limit = 3 + Math.floor(r() * 6);
      if (depth > limit) assert.throws(() => scan(text, r, limit), /nested deeper/);
      else assert.equal(scan(text, r, limit).records, 1);
    }
  });

  it('refuses at the first record over the limit, before the body has arrived', () => {
    const s = new JsonEnvelopeScanner(16, 3);
    s.push(Buffer.from(`{"header":${JSON.stringify(HEADER)},"records":[{"a":1},{"b":"],"},[3]`));
    assert.equal(s.records, 3);
    assert.throws(() => s.push(Buffer.from(',4')), (e: unknown) => e instanceof WireError && e.status === 413);
  });

  it('takes a lower limit once the header is known, refusing at once when already over it', () => {
    const s = new JsonEnvelopeScanner(16, 1000);
    s.push(Buffer.from(`{"header":${JSON.stringify(HEADER)},"records":[1,2,3,`));
    assert.ok(s.headerBytes);
    assert.throws(() => s.limitRecords(2), (e: unknown) => e instanceof WireError && e.status === 422);
    const t = new JsonEnvelopeScanner(16, 1000);
    t.push(Buffer.from(`{"header":${JSON.stringify(HEADER)},"records":[1,`));
    t.limitRecords(2);
    t.push(Buffer.from('2'));
    assert.throws(() => t.push(Buffer.from(',3]}')), /more than 2 records/);
  });

  it('reads a pruned batch\'s cover, whatever its place, keeps the header exact, and bounds its size', () => {
    const r = prng(11);
    const cover = { header: HEADER, record: { kind: 'gap', batches: [{ batch: 1, hash: 'ab' }] }, index: 0, path: ['x', 'y'] };
    for (let round = 0; round < 100; round++) {
      const text = r() < 0.5
        ? JSON.stringify({ header: HEADER, records: [], pruned: true, cover })
        : JSON.stringify({ cover, header: HEADER, pruned: true, records: [] });
      const s = scan(text, r);
      assert.deepEqual(JSON.parse(s.headerBytes!.toString('utf8')), HEADER, 'the cover\'s own header is not taken for the batch\'s');
      assert.equal(s.records, 0);
    }
    refuses(`{"header":${JSON.stringify(HEADER)},"records":[],"pruned":true,"cover":[1]}`, /body.cover must be an object/);
    refuses(`{"header":${JSON.stringify(HEADER)},"records":[],"pruned":true,"cover":{"x":"${'a'.repeat(MAX_COVER_BYTES)}"}}`, /body.cover is over/, { status: 413 });
  });

  it('hands out the header before any record is read', () => {
    const s = new JsonEnvelopeScanner(16, 10);
    s.push(Buffer.from(`{"header":${JSON.stringify(HEADER)}`));
    assert.deepEqual(JSON.parse(s.headerBytes!.toString()), HEADER);
    assert.equal(s.records, 0);
  });

  it('reads a field name written with escapes as JSON.parse does', () => {
    const s = scan('{"\\u0068eader":{"v":1},"rec\\u006frds":[1,2]}', prng(3));
    assert.equal(s.records, 2);
  });

  it('refuses what the envelope does not allow, each with its reason', () => {
    const h = JSON.stringify(HEADER);
    refuses(`{"records":[],"header":${h}}`, /header must come before body.records/);
    refuses(`{"header":${h},"records":[],"extra":1}`, /unknown field extra/);
    refuses(`{"header":${h},"header":${h},"records":[]}`, /field header twice/);
    refuses('{"header":[1],"records":[]}', /header must be an object/);
    refuses(`{"header":${h},"records":{}}`, /records must be an array/);
    refuses(`{"header":${h},"records":[],"pruned":"yes"}`, /pruned must be true/);
    refuses(`{"header":${h},"records":[],"pruned":tru}`, /pruned must be true/);
    refuses(`{"header":${h},"records":[]}{}`, /bytes after/);
    refuses(`[{"header":${h}}]`, /must be a JSON object/);
    refuses(`{"header":${h}}`, /records must be an array/);
    refuses(`{"records2":[]}`, /unknown field/);
    refuses(`{"header":${h},"records":[1,2`, /ends before/);
    refuses(`{"header":{"a":"${'x'.repeat(20_000)}"},"records":[]}`, /header is over/);
    refuses(`{"header":${h},"records":[${'['.repeat(100)}`, /nested deeper than 16/, { depth: 16 });
  });

  it('counts 100,000 one-byte records exactly at the limit, and refuses one more', () => {
    const text = `{"header":${JSON.stringify(HEADER)},"records":[${'0,'.repeat(99_999)}0]}`;
    assert.equal(scan(text, prng(5), 16, 100_000).records, 100_000);
    assert.throws(() => scan(text, prng(5), 16, 99_999), /more than 99999 records/);
  });
});
