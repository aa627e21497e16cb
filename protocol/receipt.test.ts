import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalize } from './canonical.ts';
import { checkReceipt, receiptProblem, RECEIPT_DOMAIN, signReceipt } from './receipt.ts';
import { generateKey, verifyBytes } from './signature.ts';

const sink = generateKey();
const claim = { device: 'dev-1', batch: 7, header: 'ab'.repeat(32) };

test('a receipt verifies for exactly its claim', () => {
  const r = signReceipt(sink, claim, 1763884805000);
  assert.equal(receiptProblem(r), null);
  assert.deepEqual(checkReceipt(r, claim), { ok: true, receipt: r });
  assert.equal(r.sink, sink.public);
});

test('a receipt for another device, batch or header hash is a mismatch', () => {
  const r = signReceipt(sink, claim, 1);
  for (const other of [{ ...claim, device: 'dev-2' }, { ...claim, batch: 8 }, { ...claim, header: 'cd'.repeat(32) }]) {
    const c = checkReceipt(r, other);
    assert.equal(c.ok, false);
    assert.equal(!c.ok && c.reason, 'receipt_mismatch');
  }
});

test('an altered receipt or a signature of another key does not verify', () => {
  const r = signReceipt(sink, claim, 1);
  const reasons = (x: unknown) => { const c = checkReceipt(x, claim); return c.ok ? 'ok' : c.reason; };
  assert.equal(reasons({ ...r, accepted: 2 }), 'bad_receipt_signature');
  assert.equal(reasons({ ...r, sink: generateKey().public }), 'bad_receipt_signature');
  assert.equal(reasons({ ...r, sig: (r.sig[0] === '0' ? '1' : '0') + r.sig.slice(1) }), 'bad_receipt_signature');
  assert.equal(reasons(undefined), 'no_receipt');
  assert.equal(reasons(null), 'no_receipt');
  assert.equal(reasons('receipt'), 'bad_receipt');
  assert.equal(reasons({ ...r, extra: 1 }), 'bad_receipt');
  const { accepted: _, ...missing } = r;
  assert.equal(reasons(missing), 'bad_receipt');
  assert.equal(reasons({ ...r, sig: r.sig.toUpperCase() }), 'bad_receipt');
  assert.equal(reasons({ ...r, batch: 7.5 }), 'bad_receipt');
});

test('the domain prefix: a receipt signature never verifies as a signature of the bare canonical bytes', () => {
  const r = signReceipt(sink, claim, 1);
  const { sig, ...unsigned } = r;
  assert.equal(verifyBytes(sink.public, Buffer.from(canonicalize(unsigned)), sig), false);
  assert.equal(verifyBytes(sink.public, Buffer.from(RECEIPT_DOMAIN + canonicalize(unsigned)), sig), true);
  assert.ok(!RECEIPT_DOMAIN.startsWith('{'), 'canonical bytes of an object start with {');
});
