// The worked examples of the specification, recomputed with the real code, so that the spec cannot
// drift from what the code does. An example is the code block after `<!-- example: NAME -->` in a
// file of this folder; the last test fails on an example that no test here checked.
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Account } from '@aptos-labs/ts-sdk';
import { chainProblem, checkBatch, headerHash, headerProblem, signBatch, verifyHeaderSignature, type Batch, type BatchHeader } from '../../protocol/batch.ts';
import { canonicalize } from '../../protocol/canonical.ts';
import { COLUMNAR_CONTENT_TYPE, encodeColumnar, encodeColumnarLines } from '../../protocol/columnar/encoder.ts';
import { decodeColumnar } from '../../protocol/columnar/decoder.ts';
import { sha256, ZERO_HASH } from '../../protocol/hash.ts';
import { inclusionPath, leafHash, nodeHash, rootFromInclusionPath, rootFromLeafHashes } from '../../protocol/merkle.ts';
import { verifyRecordProof } from '../../protocol/proof.ts';
import { endorsementHolds, endorseRotation, rotationMessage } from '../../protocol/key-rotation.ts';
import { gapRecord, readingRecord, recordProblem } from '../../protocol/records.ts';
import { coverProblem } from '../../protocol/prune-cover.ts';
import { keyFromSeed, signBytes, verifyBytes } from '../../protocol/signature.ts';
import { checkReceipt, receiptSigningBytes, signReceipt, type Receipt } from '../../protocol/receipt.ts';
import { loadAnchorAbi } from '../../cloud-sink/anchor/abi.ts';
import { AptosAnchorChain } from '../../cloud-sink/anchor/aptos-chain.ts';
import { AptosSimulator } from '../../cloud-sink/aptos-simulator/simulator.ts';
import { rotationMessage as simulatorRotationMessage } from '../../cloud-sink/aptos-simulator/device-key-registry.ts';
import { invalidDeviceKeys, loadSinkConfig, sinkConfig } from '../../cloud-sink/config.ts';
import { Sink } from '../../cloud-sink/sink.ts';
import { getJson, postRaw, type Reply } from '../../test/support/sink.ts';
import { BodyBudget, readBatchBody, type BodyLimits } from '../../cloud-sink/wire/body.ts';
import { loadDeviceConfig } from '../../app/config/device-config.ts';
import { silentLogger } from '../../kernel/log.ts';
import { runCli } from '../../test/support/cli.ts';

// ---------------------------------------------------------------- reading the examples

const SPEC_DIR = new URL('./', import.meta.url);
const specFiles = readdirSync(SPEC_DIR).filter((f) => f.endsWith('.md')).sort();
const specText = (file: string) => readFileSync(new URL(file, SPEC_DIR), 'utf8');

/** Every `<!-- example: NAME -->` and the fenced block after it, de-indented (blocks may sit in list items). */
function readExamples(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of specFiles) {
    const lines = specText(file).split('\n');
    for (let i = 0; i < lines.length; i++) {
      const m = /^(\s*)<!-- example: ([a-z0-9-]+) -->$/.exec(lines[i]!);
      if (!m) continue;
      const [, indent, name] = m as unknown as [string, string, string];
      assert.ok(!found.has(name), `example ${name} is defined twice`);
      assert.match(lines[i + 1] ?? '', new RegExp(`^${indent}\`\`\`[a-z]*$`), `${file}: example ${name} is not followed by a code block`);
      const body: string[] = [];
      let j = i + 2;
      for (; j < lines.length && lines[j] !== `${indent}\`\`\``; j++) {
        assert.ok(lines[j]!.startsWith(indent) || lines[j] === '', `${file}: example ${name} leaves its indentation`);
        body.push(lines[j]!.slice(indent.length));
      }
      assert.ok(j < lines.length, `${file}: example ${name} has no closing fence`);
      found.set(name, body.join('\n'));
      i = j;
    }
  }
  return found;
}

const examples = readExamples();
const checked = new Set<string>();

function example(name: string): string {
  const text = examples.get(name);
  assert.ok(text !== undefined, `the spec has no example ${name}`);
  checked.add(name);
  return text;
}

const exampleJson = <T = unknown>(name: string) => JSON.parse(example(name)) as T;

/** `NAME = ... = <hex>` lines: the hex after the last `=`, by the name before the first. */
function namedHashes(name: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of example(name).split('\n')) {
    const m = /^(.+?)\s*=.*=\s*([0-9a-f]{64})$/.exec(line);
    assert.ok(m, `${name}: cannot read ${JSON.stringify(line)}`);
    out.set(m[1]!, m[2]!);
  }
  return out;
}

const hex = (b: Buffer) => b.toString('hex');

// ---------------------------------------------------------------- the example device

const SEED = '11'.repeat(32);
const chain = example('chain').split('\n').map((l) => JSON.parse(l) as Batch);
const batch1 = chain[0]!;
const leaves = batch1.records.map((r) => leafHash(canonicalize(r)));
const headerHashes = chain.map((b) => headerHash(b.header));
const anchorLeaves = headerHashes.map((h) => leafHash(Buffer.from(h, 'hex')));

describe('records.md', () => {
  it('canonicalizes the example object as RFC 8785 does', () => {
    assert.equal(canonicalize(JSON.parse(example('jcs-input'))), example('jcs-output'));
  });

  it('gives the canonical bytes of record 4 (a reading) and record 3 (a gap), the same records as the chain', () => {
    for (const [name, index] of [['record-reading', 3], ['record-gap', 2]] as const) {
      const record = exampleJson(name);
      assert.equal(recordProblem(record), null);
      assert.equal(canonicalize(record), example(`${name}-canonical`));
      assert.equal(canonicalize(record), canonicalize(batch1.records[index]));
    }
  });
});

describe('merkle.md', () => {
  const names = namedHashes('merkle-nodes');
  const n01 = nodeHash(leaves[0]!, leaves[1]!);
  const n23 = nodeHash(leaves[2]!, leaves[3]!);
  const n0123 = nodeHash(n01, n23);
  const expected = new Map<string, Buffer>([...leaves.map((l, i) => [`L${i}`, l] as [string, Buffer]),
    ['N01', n01], ['N23', n23], ['N0123', n0123], ['root', nodeHash(n0123, leaves[4]!)]]);
  const byHex = new Map([...names].map(([n, h]) => [h, n]));

  it('lists batch 1\'s canonical lines', () => {
    assert.deepEqual(example('merkle-leaves').split('\n'), batch1.records.map((r) => canonicalize(r)));
  });

  it('gives every leaf and node hash of batch 1\'s tree, and its root is the header\'s', () => {
    assert.deepEqual([...names.keys()], [...expected.keys()]);
    for (const [name, h] of expected) assert.equal(names.get(name), hex(h), name);
    assert.equal(hex(rootFromLeafHashes(leaves)), names.get('root'));
    assert.equal(batch1.header.root, names.get('root'));
  });

  // RFC 9162 2.1.3.2, one step at a time, to compare with the walk the spec prints.
  function walk(leaf: Buffer, index: number, size: number, path: Buffer[]) {
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    return path.map((p) => {
      const pFirst = fn % 2 === 1 || fn === sn;
      if (pFirst) {
        r = nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      } else r = nodeHash(r, p);
      fn >>= 1;
      sn >>= 1;
      return { pFirst, r, fn, sn };
    });
  }

  for (const m of [3, 4]) {
    it(`walks the verification of leaf ${m} step by step as RFC 9162 does`, () => {
      const [head, ...steps] = example(`merkle-walk-${m}`).split('\n');
      const h = /^leaf (\d+) of (\d+): r = (\w+), fn = (\d+), sn = (\d+), path = \[([\w, ]*)\]$/.exec(head!);
      assert.ok(h, `cannot read ${head}`);
      assert.deepEqual([Number(h[1]), Number(h[2]), h[3], Number(h[4]), Number(h[5])], [m, 5, `L${m}`, m, 4]);
      const path = inclusionPath(leaves, m);
      assert.deepEqual(h[6]!.split(', '), path.map((p) => byHex.get(hex(p))));
      const trace = walk(leaves[m]!, m, 5, path);
      assert.equal(steps.length, trace.length);
      steps.forEach((line, i) => {
        const s = /^p = (\w+):.*SHA-256\(0x01 \|\| (p|r) \|\| (?:p|r)\) = (\w+)\s+fn = (\d+), sn = (\d+)$/.exec(line);
        assert.ok(s, `cannot read ${line}`);
        const t = trace[i]!;
        assert.deepEqual([s[1], s[2] === 'p', s[3], Number(s[4]), Number(s[5])], [byHex.get(hex(path[i]!)), t.pFirst, byHex.get(hex(t.r)), t.fn, t.sn], line);
      });
      assert.equal(hex(rootFromInclusionPath(leaves[m]!, m, 5, path)!), batch1.header.root);
    });
  }
});

describe('batches.md', () => {
  const key = keyFromSeed(SEED);

  it('derives the example public key from the seed', () => {
    const [seedLine, keyLine] = example('device-key').split('\n');
    assert.equal(seedLine, `seed:       ${SEED}`);
    assert.equal(keyLine, `public key: ${key.public}`);
    for (const b of chain) assert.equal(b.header.key, key.public);
  });

  it('signs the canonical header without sig, deterministically, and refuses a non-canonical S', () => {
    const { sig, ...unsigned } = batch1.header;
    const input = example('signing-input');
    assert.equal(input, canonicalize(unsigned));
    assert.equal(signBytes(key, Buffer.from(input, 'utf8')), sig);
    assert.deepEqual(exampleJson('header'), batch1.header);
    // S + L is the same point arithmetic but not the canonical encoding (RFC 8032 5.1.7).
    const raw = Buffer.from(sig, 'hex');
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) + BigInt(raw[32 + i]!);
    let t = s + (1n << 252n) + 27742317777372353535851937790883648493n;
    for (let i = 0; i < 32; i++, t >>= 8n) raw[32 + i] = Number(t & 0xffn);
    assert.equal(verifyBytes(key.public, Buffer.from(input, 'utf8'), raw.toString('hex')), false);
  });

  it('hashes the canonical header, sig included', () => {
    assert.equal(example('header-canonical'), canonicalize(batch1.header));
    assert.equal(hex(sha256(example('header-canonical'))), headerHashes[0]);
    assert.deepEqual(example('header-hashes').split('\n'), headerHashes.map((h, i) => `batch ${i + 1}: ${h}`));
  });

  it('prints a chain of valid batches, each prev the hash of the header before', () => {
    for (const b of chain) {
      assert.deepEqual(Object.keys(b), ['header', 'records']);
      assert.deepEqual(checkBatch(b.header, b.records), { ok: true, leaves: b.records.map((r) => leafHash(canonicalize(r))) });
    }
    assert.equal(chainProblem(chain.map((b) => b.header)), null);
    assert.equal(batch1.header.prev, ZERO_HASH);
    assert.equal(batch1.header.first, 1);
  });
});

/** The proof of record 4 as the spec prints it, against the one rebuilt here from the chain. */
function checkProofAgainstChain(proof: Record<string, unknown>, anchor: Record<string, unknown>): void {
  assert.deepEqual(proof, {
    record: batch1.records[3], index: 3, path: inclusionPath(leaves, 3).map(hex), header: batch1.header,
    anchor: { ...anchor, root: hex(rootFromLeafHashes(anchorLeaves)), index: 0, size: 3, path: inclusionPath(anchorLeaves, 0).map(hex) },
  });
}

describe('proofs.md', () => {
  it('gives the anchor tree over the three header hashes', () => {
    const names = namedHashes('anchor-nodes');
    assert.deepEqual([...names.keys()], ['A0', 'A1', 'A2', 'A01', 'anchor root']);
    anchorLeaves.forEach((l, i) => assert.equal(names.get(`A${i}`), hex(l)));
    assert.equal(names.get('A01'), hex(nodeHash(anchorLeaves[0]!, anchorLeaves[1]!)));
    assert.equal(names.get('anchor root'), hex(rootFromLeafHashes(anchorLeaves)));
  });

  it('prints a proof of record 4 that verifies offline, anchored', () => {
    const proof = exampleJson<{ anchor: Record<string, unknown> }>('proof');
    checkProofAgainstChain(proof, proof.anchor);
    assert.deepEqual(Object.keys(proof.anchor), ['root', 'index', 'size', 'path', 'chain', 'tx', 'version', 'module', 'sender']);
    const check = verifyRecordProof(proof);
    assert.equal(check.ok, true);
    assert.equal(check.anchored, true);
  });
});

/** The body as the sink's reader takes it from a request, its header accepted as soon as it arrives. */
async function sinkReads(body: Buffer, headers: Record<string, string>) {
  const limits: BodyLimits = { maxBodyBytes: 1 << 20, maxDecodedBytes: 1 << 20, maxRecords: 10, maxJsonDepth: 8 };
  const req = Object.assign(Readable.from([body]), { headers }) as unknown as IncomingMessage;
  const read = await readBatchBody(req, limits, new BodyBudget(1 << 22), async () => ({ proceed: true as const, records: 10 }));
  assert.ok('decoded' in read);
  return read.decoded;
}

describe('wire.md and columnar.md', () => {
  it('writes batch 2\'s JSON body as the uplink does, and the sink reads it', async () => {
    const body = example('json-body');
    const b2 = chain[1]!;
    assert.equal(body, `{"header":${canonicalize(b2.header)},"records":[${b2.records.map((r) => canonicalize(r)).join(',')}]}`);
    const decoded = await sinkReads(gzipSync(body), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    assert.deepEqual(decoded, { header: b2.header, records: b2.records, pruned: false });
  });

  it('writes a pruned batch as its header with the signed gap record naming it, which the sink checks', async () => {
    // Batch 4 as the device seals it after dropping batch 3: the gap record names batch 3 by its hash.
    const b3 = chain[2]!;
    const gap = gapRecord('site-a-gw1', 9, 1, 1763884803250, 1763884803250, 'disk_full', [{ batch: 3, hash: headerHash(b3.header) }]);
    const reading = readingRecord('site-a-gw1', 10, { sensor: 'meter-1', metric: 'voltage_an_v', unit: 'V', ts: 1763884804250, value: 230 }, { score: 1, flags: [] });
    const b4 = signBatch('site-a-gw1', keyFromSeed(SEED), 4, [gap, reading], headerHash(b3.header), 1763884804900);
    assert.deepEqual(exampleJson('pruned-cover-batch'), b4);
    const cover = { header: b4.header, record: gap, index: 0, path: inclusionPath([gap, reading].map((r) => leafHash(canonicalize(r))), 0).map(hex) };
    const body = example('pruned-body');
    assert.equal(body, `{"header":${canonicalize(b3.header)},"records":[],"pruned":true,"cover":${canonicalize(cover)}}`);
    const decoded = await sinkReads(Buffer.from(body), {});
    assert.equal(decoded.pruned, true);
    assert.equal(headerProblem(decoded.header), null);
    assert.equal(verifyHeaderSignature(decoded.header as BatchHeader), true);
    assert.equal(coverProblem(decoded.header as BatchHeader, decoded.cover), null);
    assert.match(coverProblem(b3.header, undefined)!, /no signed gap record/);
    assert.match(coverProblem(chain[1]!.header, cover)!, /does not name batch 2/);
  });

  it('lists batch 1\'s columnar body byte for byte as the encoder writes it, and the decoder reads it back', () => {
    const parts: Buffer[] = [];
    for (const line of example('columnar-body').split('\n')) {
      const text = /^\s*\| (.*)$/.exec(line);
      if (text) {
        parts.push(Buffer.from(text[1]!, 'utf8'));
        continue;
      }
      const bytes = line.split('#')[0]!.replace(/\s+/g, '');
      assert.match(bytes, /^([0-9a-f]{2})*$/, `not hex bytes: ${line}`);
      parts.push(Buffer.from(bytes, 'hex'));
    }
    const body = Buffer.concat(parts);
    const lines = batch1.records.map((r) => canonicalize(r));
    assert.equal(hex(body), hex(encodeColumnar(batch1.header, batch1.records as unknown as Record<string, unknown>[])));
    assert.equal(hex(body), hex(encodeColumnarLines(batch1.header, lines)));
    const decoded = decodeColumnar(body, 100);
    assert.deepEqual(decoded.header, batch1.header);
    assert.deepEqual(decoded.lines, lines);
  });
});

/** `HTTP/1.1 NNN` and a JSON body; `error` is for people, so only its form is compared. */
function assertReply(actual: Reply, name: string): void {
  const [statusLine, body, ...rest] = example(name).split('\n');
  assert.equal(rest.length, 0);
  const expected = { status: Number(/^HTTP\/1\.1 (\d{3})$/.exec(statusLine!)?.[1]), body: JSON.parse(body!) as Record<string, unknown> };
  const { error: actualError, ...actualRest } = actual.body;
  const { error: expectedError, ...expectedRest } = expected.body;
  assert.deepEqual({ status: actual.status, body: actualRest }, { status: expected.status, body: expectedRest }, name);
  assert.equal(typeof actualError, typeof expectedError, name);
  if (typeof actualError === 'string') assert.doesNotMatch(actualError, /\n/);
}

/** The example sink's receipt key and clock (wire.md, "Acknowledgements"). */
const SINK_SEED = '22'.repeat(32);
const SINK_NOW = 1763884805000;

describe('wire.md: receipts', () => {
  const sinkKey = keyFromSeed(SINK_SEED);
  it('derives the example sink key from its seed', () => {
    assert.equal(example('sink-key'), `seed:       ${SINK_SEED}\npublic key: ${sinkKey.public}`);
  });
  it('signs the receipt of batch 1 as printed, over the domain prefix and the canonical receipt without sig', () => {
    const receipt = JSON.parse(example('receipt')) as Receipt;
    assert.deepEqual(receipt, signReceipt(sinkKey, { device: 'site-a-gw1', batch: 1, header: headerHashes[0]! }, SINK_NOW));
    const { sig, ...unsigned } = receipt;
    assert.equal(example('receipt-signing-input'), receiptSigningBytes(unsigned).toString('utf8').replace('\n', '\\n'));
    assert.ok(verifyBytes(sinkKey.public, receiptSigningBytes(unsigned), sig));
    assert.equal(checkReceipt(receipt, { device: 'site-a-gw1', batch: 1, header: headerHashes[0]! }).ok, true);
    // The same signature over the bare canonical bytes (what a batch header signature covers) does not hold.
    assert.equal(verifyBytes(sinkKey.public, Buffer.from(canonicalize(unsigned)), sig), false);
  });
});

describe('the example batches through a real sink, anchored through the Aptos simulator', () => {
  const abi = loadAnchorAbi();
  const sim = new AptosSimulator({ abi, moduleAddress: '0xcafe', chainId: 2 });
  const account = Account.generate();
  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-spec-'));
  let sink: Sink;
  const key = keyFromSeed(SEED);
  const json = (b: Batch) => postRaw(sink.url, `{"header":${canonicalize(b.header)},"records":[${b.records.map((r) => canonicalize(r)).join(',')}]}`, { 'content-type': 'application/json' });

  before(async () => {
    await sim.start();
    // The example's operator account is 0xcafe, controlled by a generated key (a rotated authentication key).
    sim.createAccount('0xcafe', { authKey: account.accountAddress.toString() });
    const config = sinkConfig({
      listen: '127.0.0.1:0', dataDir: join(dir, 'sink'), devices: [{ id: 'site-a-gw1', key: key.public }], limits: { chainWaitMs: 0 },
      anchor: { mode: 'aptos', intervalMs: 3_600_000, aptos: { node: sim.url, module: '0xcafe::anchor', waitSecs: 5 } },
    });
    const anchorChain = new AptosAnchorChain({ node: sim.url, module: '0xcafe::anchor', privateKey: account.privateKey.toString(), maxGasAmount: 20_000, waitSecs: 5, abi, log: silentLogger() });
    mkdirSync(join(dir, 'sink'), { recursive: true });
    writeFileSync(join(dir, 'sink', 'sink.key'), JSON.stringify({ v: 1, seed: SINK_SEED }), { mode: 0o600 });
    sink = new Sink(config, { chain: anchorChain, now: () => SINK_NOW });
    await sink.start();
  });
  after(async () => {
    await sink.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers as wire.md shows, step by step', async () => {
    assertReply(await postRaw(sink.url, example('json-body'), { 'content-type': 'application/json' }), 'reply-out-of-order');
    const columnar = gzipSync(encodeColumnar(batch1.header, batch1.records as unknown as Record<string, unknown>[]));
    assertReply(await postRaw(sink.url, columnar, { 'content-type': COLUMNAR_CONTENT_TYPE, 'content-encoding': 'gzip' }), 'reply-stored');
    assertReply(await json(batch1), 'reply-duplicate');
    assertReply(await getJson(`${sink.url}/v1/devices/site-a-gw1/head`), 'reply-head');
    assert.equal((await json(chain[1]!)).status, 200);
    const resigned = signBatch('site-a-gw1', key, 2, chain[1]!.records, chain[1]!.header.prev, chain[1]!.header.created + 1);
    assertReply(await json(resigned), 'reply-equivocation');
    assertReply(await json({ header: { ...chain[2]!.header, created: chain[2]!.header.created + 1 }, records: chain[2]!.records }), 'reply-bad-signature');
    const { receipt, ...stored } = (await json(chain[2]!)).body;
    assert.deepEqual(stored, { status: 'stored', device: 'site-a-gw1', batch: 3, hash: headerHashes[2] });
    assert.equal(checkReceipt(receipt, { device: 'site-a-gw1', batch: 3, header: headerHashes[2]! }).ok, true);
  });

  it('anchors the three headers in one tree and serves the proof of proofs.md', async () => {
    assert.equal(await sink.anchorNow(), 1);
    const res = await getJson(`${sink.url}/v1/proofs/site-a-gw1/4`);
    assert.equal(res.status, 200);
    const served = res.body as { anchor: Record<string, unknown> };
    const printed = exampleJson<{ anchor: { tx: string; version: number } }>('proof');
    // tx and version are the chain's; the spec says its own are illustrative.
    assert.match(String(served.anchor.tx), /^0x[0-9a-f]{64}$/);
    assert.ok(Number.isSafeInteger(served.anchor.version));
    checkProofAgainstChain(served, { ...printed.anchor, tx: served.anchor.tx, version: served.anchor.version });

    const file = join(dir, 'served-proof.json');
    writeFileSync(file, JSON.stringify(served));
    const out = await runCli(['verify', file, '--anchor-account', '0xcafe', '--aptos-node', sim.url, '--json']);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    const verdict = JSON.parse(out.stdout) as { trusted: boolean; steps: { step: string; ok: boolean }[] };
    assert.equal(verdict.trusted, true);
    const offline = exampleJson<{ steps: { step: string; ok: boolean }[] }>('verify-output').steps.map((s) => `${s.step}:${s.ok}`).filter((s) => s !== 'given key:true');
    const online = example('verify-online-steps').split('\n').map((l) => l.replace(/\s{2,}ok$/, ':true'));
    assert.deepEqual(verdict.steps.map((s) => `${s.step}:${s.ok}`), [...offline, ...online]);
  });
});

describe('proofs.md: the rotation message', () => {
  it('is the six parts printed, which the old key endorses as printed', () => {
    const parts = new Map(example('rotation-message').split('\n').map((l) => l.split(/\s+/) as [string, string]));
    const oldKey = keyFromSeed(SEED).public;
    const newKey = keyFromSeed('22'.repeat(32)).public;
    assert.equal(Buffer.from(parts.get('domain')!, 'hex').toString('ascii'), 'FIELDPROOF::DeviceKeyRotation');
    assert.deepEqual([parts.get('old_key'), parts.get('new_key')], [oldKey, newKey]);
    assert.equal(Buffer.from(parts.get('valid_from_ms')!, 'hex').readBigUInt64LE(), 1763884900000n);
    const rotation = { operator: '0xcafe', device: 'site-a-gw1', oldKey, newKey, validFromMs: 1763884900000 };
    const printed = ['domain', 'operator', 'device', 'old_key', 'new_key', 'valid_from_ms'].map((k) => parts.get(k)!).join('');
    assert.equal(rotationMessage(rotation).toString('hex'), printed);
    assert.equal(simulatorRotationMessage('0xcafe', 'site-a-gw1', Buffer.from(oldKey, 'hex'), Buffer.from(newKey, 'hex'), 1763884900000n).toString('hex'), printed);
    assert.equal(endorseRotation(keyFromSeed(SEED), rotation), parts.get('endorsement'));
    assert.equal(endorsementHolds(rotation, parts.get('endorsement')!), true);
  });
});

describe('cli.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-spec-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keys show prints the key of the key file', async () => {
    const file = exampleJson<{ seed: string; public: string }>('key-file');
    assert.deepEqual(file, { v: 1, seed: SEED, public: keyFromSeed(SEED).public });
    writeFileSync(join(dir, 'device.key'), example('key-file') + '\n', { mode: 0o600 });
    const out = await runCli(['keys', 'show', '--data-dir', dir, '--json']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, example('keys-show') + '\n');
  });

  /** verify's JSON without `detail`, which is for people. */
  const shape = (text: string) => {
    const v = JSON.parse(text) as { ok: boolean; trusted: boolean; anchored: boolean; steps: { step: string; ok: boolean }[] };
    assert.deepEqual(Object.keys(v), ['ok', 'trusted', 'anchored', 'steps']);
    return { ok: v.ok, trusted: v.trusted, anchored: v.anchored, steps: v.steps.map((s) => ({ step: s.step, ok: s.ok })) };
  };

  it('verify trusts the proof of proofs.md with the device key (exit 0), finds it only consistent without (exit 3), and refuses it altered (exit 1)', async () => {
    const proof = exampleJson<{ record: { value: number } }>('proof');
    const deviceKey = keyFromSeed(SEED).public;
    writeFileSync(join(dir, 'proof.json'), JSON.stringify(proof));
    const good = await runCli(['verify', join(dir, 'proof.json'), '--device-key', deviceKey, '--json']);
    assert.equal(good.code, 0, good.stderr);
    assert.deepEqual(shape(good.stdout), shape(example('verify-output')));
    const rootless = await runCli(['verify', join(dir, 'proof.json'), '--json']);
    assert.equal(rootless.code, 3, rootless.stderr);
    assert.deepEqual(shape(rootless.stdout), shape(example('verify-output-rootless')));
    assert.equal(proof.record.value, 27.2);
    proof.record.value = 27.3;
    writeFileSync(join(dir, 'altered.json'), JSON.stringify(proof));
    const bad = await runCli(['verify', join(dir, 'altered.json'), '--device-key', deviceKey, '--json']);
    assert.equal(bad.code, 1, bad.stderr);
    assert.deepEqual(shape(bad.stdout), shape(example('verify-output-altered')));
  });
});

describe('configs.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldproof-spec-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the minimal device.yaml loads as written, and with the gateway section', () => {
    const device = example('device-yaml');
    writeFileSync(join(dir, 'device.yaml'), device);
    const c = loadDeviceConfig(join(dir, 'device.yaml'));
    assert.equal(c.device, 'site-a-gw1');
    assert.equal(c.dataDir, '/var/lib/fieldproof');
    assert.equal(c.drivers.length, 1);
    assert.deepEqual([c.batch.maxRecords, c.batch.maxAgeMs], [500, 1000]);
    assert.equal(c.uplink?.url, 'http://127.0.0.1:8787');
    writeFileSync(join(dir, 'gateway.yaml'), `${device}\n${example('gateway-yaml')}\n`);
    const g = loadDeviceConfig(join(dir, 'gateway.yaml'));
    assert.deepEqual(g.gateway?.devices.map((d) => d.id), ['node-1', 'node-2']);
  });

  it('the minimal sink.yaml loads as written, its placeholder key noted as invalid', () => {
    writeFileSync(join(dir, 'sink.yaml'), example('sink-yaml'));
    const c = loadSinkConfig(join(dir, 'sink.yaml'));
    assert.deepEqual(c.devices, [{ id: 'site-a-gw1', key: '5f2c...' }]);
    assert.deepEqual(invalidDeviceKeys(c), ['site-a-gw1']);
    assert.equal(c.anchor.mode, 'none');
  });
});

describe('the specification as a whole', () => {
  it('is linked to, and links, only files and headings that exist', () => {
    // Every markdown file of the repository: a link into the spec from a README must not rot either.
    const markdown = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      if (e.name === 'node_modules' || e.name.startsWith('.')) return [];
      const path = join(dir, e.name);
      return e.isDirectory() ? markdown(path) : e.name.endsWith('.md') ? [path] : [];
    });
    const specDir = fileURLToPath(SPEC_DIR);
    const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
    const anchorsOf = (file: string) => new Set(readFileSync(file, 'utf8').split('\n').filter((l) => /^#{1,6} /.test(l)).map((l) => slug(l.replace(/^#+ /, ''))));
    let checkedLinks = 0;
    for (const file of markdown(fileURLToPath(new URL('../../', SPEC_DIR)))) {
      const inSpec = dirname(file) === resolve(specDir);
      for (const [, target] of readFileSync(file, 'utf8').matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const into = path === '' ? file : resolve(dirname(file), path);
        if (!inSpec && !into.startsWith(resolve(specDir))) continue;
        checkedLinks++;
        assert.ok(existsSync(into), `${file} links to ${target}, which does not exist`);
        if (anchor !== undefined && into.endsWith('.md')) assert.ok(anchorsOf(into).has(anchor), `${file} links to ${target}: no such heading`);
      }
    }
    assert.ok(checkedLinks > 50, `only ${checkedLinks} links checked`);
  });

  it('has no example that this test does not check', () => {
    assert.deepEqual([...examples.keys()].filter((n) => !checked.has(n)), []);
  });
});
