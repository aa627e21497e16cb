// The proof page's verifier (www/proof-check.js, plain JavaScript on WebCrypto) against the
// project's own (protocol/proof.ts on node:crypto): the specification's examples, JCS numbers and
// strings, and every tampering of an honest proof give the same steps, word for word. Node has
// the same WebCrypto as the browser; the Chromium test runs the same module in the page.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { canonicalize } from '../../protocol/canonical.ts';
import { headerHash, signBatch } from '../../protocol/batch.ts';
import { verifyRecordProof, type RecordProof } from '../../protocol/proof.ts';
import { parseProof } from '../../protocol/proof-input.ts';
import { gapRecord, readingRecord, type JournalRecord } from '../../protocol/records.ts';
import { restartRecord } from '../../protocol/restart.ts';
import { generateKey, keyFromSeed, signBytes } from '../../protocol/signature.ts';
import { recordProof } from '../anchor/chain-testing.ts';
import { offlineForgeries } from '../../test/support/forgeries.ts';
import { makeChain } from '../../test/support/sink.ts';
// @ts-expect-error: a browser module in plain JavaScript, without type declarations
import * as jcs from './www/jcs.js';
// @ts-expect-error: as above
import * as browser from './www/proof-check.js';
// @ts-expect-error: as above
import * as browserInput from './www/proof-input.js';

interface Verdict { ok: boolean; trusted: boolean; anchored: boolean; steps: { step: string; ok: boolean; detail?: string }[] }
const check = browser.checkProof as (proof: unknown, opts?: { deviceKey?: string }) => Promise<Verdict>;
const canonicalizeInBrowser = jcs.canonicalize as (v: unknown) => string;

/** The fenced block after `<!-- example: NAME -->` in a file of docs/spec. */
function example(file: string, name: string): string {
  const text = readFileSync(new URL(`../../docs/spec/${file}`, import.meta.url), 'utf8');
  const m = new RegExp(`<!-- example: ${name} -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\``).exec(text);
  assert.ok(m, `docs/spec/${file} has no example ${name}`);
  return m[1]!;
}

/** The browser's verdict is the project's, step for step. */
async function sameVerdict(proof: unknown, deviceKey?: string): Promise<Verdict> {
  const mine = await check(proof, deviceKey === undefined ? {} : { deviceKey });
  const theirs = verifyRecordProof(proof, deviceKey === undefined ? {} : { deviceKey });
  assert.deepEqual(mine.steps, theirs.steps);
  assert.deepEqual({ ok: mine.ok, anchored: mine.anchored }, { ok: theirs.ok, anchored: theirs.anchored });
  return mine;
}

describe('the proof page\'s verifier', () => {
  it('canonicalizes as protocol/canonical.ts does: the spec\'s example, RFC 8785 numbers, strings and order', () => {
    assert.equal(canonicalizeInBrowser(JSON.parse(example('records.md', 'jcs-input'))), example('records.md', 'jcs-output'));
    const numbers = ['0000000000000001', '7fefffffffffffff', '4340000000000000', '4430000000000000', '44b52d02c7e14af6', '444b1ae4d6e2ef50',
      '3eb0c6f7a0b5ed8c', '3eb0c6f7a0b5ed8d', '41b3de4355555553', 'becbf647612f3696', '43143ff3c1cb0959', '8000000000000000']
      .map((bits) => Buffer.from(bits, 'hex').readDoubleBE(0));
    const samples: unknown[] = [
      numbers, { b: [1, { z: null, a: 'x' }], a: { '': -0, é: 'ü\u2028', '\u0000': true, '\ud83d\ude00': '\u20ac', '\r': 1, '1': [] } },
      [undefined, 1e21, 1e-7, 0.1 + 0.2, -1e-324], { undef: undefined, keep: '\u000f"\\/' },
    ];
    for (const s of samples) assert.equal(canonicalizeInBrowser(s), canonicalize(s));
    assert.throws(() => canonicalizeInBrowser(Number.NaN), /non-finite/);
  });

  it('holds for the spec\'s example proof at the example device\'s key, as `fieldproof verify` does', async () => {
    const proof = JSON.parse(example('proofs.md', 'proof')) as RecordProof;
    const key = keyFromSeed('11'.repeat(32)).public;
    const v = await sameVerdict(proof, key);
    assert.deepEqual({ ok: v.ok, trusted: v.trusted, anchored: v.anchored }, { ok: true, trusted: true, anchored: true });
    assert.deepEqual(v.steps.map((s) => s.step), ['batch signature', 'given key', 'record in batch', 'batch in anchor']);
    const noRoot = await sameVerdict(proof);
    assert.deepEqual({ ok: noRoot.ok, trusted: noRoot.trusted }, { ok: true, trusted: false });
  });

  it('refuses every forgery at the same step, for the same reason, as fieldproof verify', async () => {
    const keyA = generateKey();
    const keyB = generateKey();
    for (const f of offlineForgeries(keyA, keyB)) {
      for (const key of [f.key, keyA.public, undefined]) {
        await sameVerdict(f.proof, key).catch((err: Error) => assert.fail(`${f.name}, key ${key ?? 'none'}: ${err.message}`));
      }
      const v = await check(f.proof, { deviceKey: f.key });
      assert.deepEqual(v.steps.at(-1), { step: f.step, ok: false, detail: f.detail }, f.name);
    }
    for (const odd of ['proof', [], { record: 1 }, { ...recordProof(makeChain('site-b', keyB, 1, 3), 0, 1), header: { v: 1 } }]) await sameVerdict(odd, keyB.public);
    const notAPoint = recordProof(makeChain('site-b', keyB, 1, 3), 0, 1);
    notAPoint.header.key = 'ff'.repeat(32);
    await sameVerdict(notAPoint, keyB.public);
  });

  it('takes the two optional header fields only in their exact shape, signed like the rest', async () => {
    const CLOCK_SHAPE = 'header.clock must be {"synced": boolean, "source": "chrony"|"timesyncd"|"unknown", "offsetMs"?: number}';
    const key = generateKey();
    const proofWith = (extra: Record<string, unknown>) => {
      const p = recordProof(makeChain('site-c', key, 1, 3), 0, 1);
      const { sig: _, ...unsigned } = { ...p.header, ...extra } as Record<string, unknown>;
      p.header = { ...unsigned, sig: signBytes(key, Buffer.from(canonicalize(unsigned))) } as unknown as RecordProof['header'];
      return p;
    };
    const ok = async (extra: Record<string, unknown>) => (await check(proofWith(extra), { deviceKey: key.public })).ok;
    const refusal = async (extra: Record<string, unknown>) => (await check(proofWith(extra), { deviceKey: key.public })).steps.at(-1);
    assert.equal(await ok({ clock: { synced: true, source: 'chrony', offsetMs: 1.5 } }), true);
    assert.equal(await ok({ clock: { synced: false, source: 'unknown' }, epoch: 2 }), true);
    assert.deepEqual(await refusal({ clock: { synced: 'yes', source: 'chrony' } }), { step: 'header', ok: false, detail: CLOCK_SHAPE });
    assert.deepEqual(await refusal({ clock: { synced: true, source: 'ntpd' } }), { step: 'header', ok: false, detail: CLOCK_SHAPE });
    assert.deepEqual(await refusal({ clock: { synced: true, source: 'chrony', drift: 1 } }), { step: 'header', ok: false, detail: 'header.clock has an unknown field drift' });
    assert.deepEqual(await refusal({ epoch: 1 }), { step: 'header', ok: false, detail: 'header.epoch must be an integer >= 2 (absent means 1)' });
    for (const extra of [{ epoch: 1 }, { epoch: 2.5 }, { epoch: '2' }, { epoch: 3, extra: 1 }, { clock: { synced: true, source: 'chrony' }, epoch: 2 }]) {
      await sameVerdict(proofWith(extra), key.public);
    }
  });

  it('takes a restart record only as seq 1 of batch 1 of its epoch, joined where it says, as fieldproof verify does', async () => {
    const key = generateKey();
    const joined = 'ab'.repeat(32);
    const reading = readingRecord('site-d', 2, { sensor: 's-1', metric: 'co2_ppm', ts: 1763890000002, value: 401, unit: 'ppm' }, { score: 1, flags: [] });
    const restart = restartRecord('site-d', 2, 'journal_lost', { epoch: 1, batch: 3, hash: joined }, 1, 1763890000000);
    const honest = await sameVerdict(recordProof([signBatch('site-d', key, 1, [restart, reading], joined, 1763890000001, 2)], 0, 0), key.public);
    assert.equal(honest.ok, true);
    const cases: [JournalRecord[], string, number, string][] = [
      [[restart], 'cd'.repeat(32), 2, "the restart record names a batch other than the one its batch's prev chains to"],
      [[restart], joined, 1, 'the restart record opens epoch 2 but its batch is of epoch 1'],
      [[{ ...restart, epoch: 3, from: { ...restart.from, epoch: 3 } } as JournalRecord], joined, 3, 'restart.from.epoch must be an earlier epoch'],
      [[{ ...restart, reason: 'bored' } as unknown as JournalRecord], joined, 2, 'restart.reason must be one of journal_lost, journal_behind_sink, operator'],
    ];
    for (const [records, prev, epoch, detail] of cases) {
      const v = await sameVerdict(recordProof([signBatch('site-d', key, 1, records, prev, 1763890000001, epoch)], 0, 0), key.public);
      assert.deepEqual(v.steps.at(-1), { step: 'record', ok: false, detail });
    }
    // a drop proof whose gap record sits in another epoch than the batch it names
    const dropped = signBatch('site-d', key, 1, [reading], joined, 1763890000001).header;
    const gap = gapRecord('site-d', 3, 1, 1, 2, 'disk_full', [{ batch: 1, hash: headerHash(dropped) }]);
    const cover = signBatch('site-d', key, 2, [gap], joined, 1763890000003, 2).header;
    const drop = await sameVerdict({ record: gap, index: 0, path: [], header: cover, pruned: { header: dropped } }, key.public);
    assert.deepEqual(drop.steps.at(-1), { step: 'dropped', ok: false, detail: "the gap record is in epoch 2, not in the dropped batch's epoch 1" });
    const second = signBatch('site-d', key, 2, [{ ...restart, seq: 3 } as JournalRecord], joined, 1763890000001, 2);
    assert.deepEqual((await sameVerdict(recordProof([second], 0, 0), key.public)).steps.at(-1), { step: 'record', ok: false, detail: 'restart.seq must be 1: a restart record opens its epoch' });
  });

  it('checks the proof is of the record asked for, as fieldproof verify --device --seq --epoch does', async () => {
    const key = generateKey();
    const epoch2 = recordProof([signBatch('site-e', key, 1, [readingRecord('site-e', 1, { sensor: 's-1', metric: 'co2_ppm', ts: 1, value: 1, unit: 'ppm' }, { score: 1, flags: [] })], 'ab'.repeat(32), 2, 2)], 0, 0);
    const epoch1 = recordProof(makeChain('site-e', key, 2, 4), 1, 2);
    const dropped = makeChain('site-e', key, 1, 4)[0]!.header;
    const gap = gapRecord('site-e', 5, 4, 1, 2, 'disk_full', [{ batch: 1, hash: headerHash(dropped) }]);
    const drop = { record: gap, index: 0, path: [], header: signBatch('site-e', key, 2, [gap], headerHash(dropped), 3).header, pruned: { header: dropped } };
    const asks = [{ seq: 7, epoch: 1 }, { seq: 7, epoch: 2 }, { device: 'site-f' }, { device: 'site-e', seq: 1, epoch: 2 }, { seq: 3 }, { seq: 5, epoch: 1 }, { epoch: 1 }];
    const verdicts: string[] = [];
    for (const proof of [epoch1, epoch2, drop]) {
      for (const asked of asks) {
        const mine = await check(proof, { deviceKey: key.public, asked } as never);
        assert.deepEqual(mine.steps, verifyRecordProof(proof, { deviceKey: key.public, asked }).steps);
        verdicts.push(`${mine.ok}`);
      }
    }
    assert.ok(verdicts.includes('true') && verdicts.includes('false'));
    const refusal = (await check(epoch2, { asked: { seq: 1, epoch: 1, device: 'site-e' } } as never)).steps.at(-1);
    assert.deepEqual(refusal, { step: 'record asked', ok: false, detail: 'the proof is of seq 1 of epoch 2 of site-e, not of seq 1 of epoch 1 of site-e as asked' });
  });

  it('reads a proof file within the bounds the CLI keeps', () => {
    const parse = browserInput.parseProofBytes as (b: Uint8Array) => { ok: boolean; problem?: string };
    const bytes = (s: string) => new TextEncoder().encode(s);
    assert.equal(parse(bytes('{'.repeat(40) + '}'.repeat(40))).problem, 'nests deeper than 32 levels, which no proof does');
    assert.equal(parse(new Uint8Array((1 << 20) + 1)).problem, 'is larger than 1048576 bytes, which no proof is');
    assert.equal(parse(bytes('{"record":')).problem, 'is not JSON');
    assert.equal(parse(bytes('{"a":[1]}')).ok, true);
  });

  it('reads a proof file with one meaning only, as the CLI does: each member once, each number as JCS writes it, UTF-8', () => {
    const parse = browserInput.parseProofBytes as (b: Uint8Array) => { ok: boolean; problem?: string; proof?: unknown };
    const texts = ['{"a":1,"b":{"a":[{"a":2}]}}', '{"a":1,"a":2}', '{"r":{"v":1,"\\u0076":2}}', '{"v":9007199254740993}', '{"v":512.0}', '{"v":-0}', '{"v":1e999}', '{"v":1e+21}', '{"s":"\\"a\\":1,\\"a\\":1"}'];
    for (const t of texts) assert.deepEqual(parse(new TextEncoder().encode(t)), parseProof(Buffer.from(t)), t);
    assert.equal(parse(new TextEncoder().encode('{"a":1,"a":2}')).problem, 'writes the member "a" twice in one object, which no proof does: JSON parsers differ on which one counts');
    const notUtf8 = Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]);
    assert.deepEqual(parse(notUtf8), { ok: false, problem: 'is not UTF-8 text, which every proof is' });
    assert.deepEqual(parse(notUtf8), parseProof(notUtf8));
  });

  it('reads the sink\'s answer as a file: bounded while it streams, with one meaning only', async () => {
    const fromSink = browserInput.proofFromResponse as (res: Response) => Promise<{ ok: boolean; problem?: string; proof?: unknown }>;
    const honest = recordProof(makeChain('site-b', generateKey(), 1, 3), 0, 1);
    assert.deepEqual(await fromSink(new Response(JSON.stringify(honest))), { ok: true, proof: honest });
    // A lying sink's endless answer is cut at the bound, not read whole into the tab.
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        sent += 65536;
        c.enqueue(new Uint8Array(65536).fill(0x20));
      },
    });
    assert.deepEqual(await fromSink(new Response(endless)), { ok: false, problem: 'is larger than 1048576 bytes, which no proof is' });
    assert.ok(sent < 2 * 1048576, `read ${sent} bytes`);
    assert.equal((await fromSink(new Response('['.repeat(100_000)))).problem, 'nests deeper than 32 levels, which no proof does');
    assert.match((await fromSink(new Response(JSON.stringify(honest).replace('"index":1', '"index":1e999')))).problem!, /^writes the number 1e999/);
  });
});
