// `fieldproof verify` against proof files whose text means one thing to the verifier and another
// to the auditor reading it (or to another JSON parser): a member written twice, a number that
// JSON parsing rounds to the one the device signed, bytes that are not UTF-8; and against a proof
// that carries terminal control sequences for the human output to print. The real command, a
// child process, on real files. Each honest variant holds, so each refusal is the ambiguity's.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { signBatch } from '../../protocol/batch.ts';
import { ZERO_HASH } from '../../protocol/hash.ts';
import { readingRecord } from '../../protocol/records.ts';
import { generateKey } from '../../protocol/signature.ts';
import { recordProof } from '../../cloud-sink/anchor/chain-testing.ts';
import { runCli, type CliResult } from '../../test/support/cli.ts';
import { tempDir } from '../../test/support/sink.ts';

describe('fieldproof verify refuses a proof file that reads as two different proofs', () => {
  const tmp = tempDir('fieldproof-ambiguous-');
  after(() => tmp.cleanup());
  const key = generateKey();
  const reading = (seq: number, sensor: string, value: number) =>
    readingRecord('site-q', seq, { sensor, metric: 'energy_wh', ts: 1763884800000 + seq, value, unit: 'Wh' }, { score: 1, flags: [] });
  // 2^53, which the device signs as written; 2^53 + 1 is read as 2^53 by every IEEE-754 parser.
  const batch = signBatch('site-q', key, 1, [reading(1, 'meter-1', 9007199254740992), reading(2, 'meter-\ufffd', 512)], ZERO_HASH, 1763884800100);
  const text = (index: number) => JSON.stringify(recordProof([batch], 0, index));
  let files = 0;

  async function verify(bytes: string | Buffer, ...flags: string[]): Promise<CliResult> {
    const file = join(tmp.dir, `proof-${++files}.json`);
    writeFileSync(file, bytes);
    return runCli(['verify', file, '--device-key', key.public, ...flags]);
  }
  /** Exit 2 in one line naming the ambiguity, before any step: nothing is reported as checked. */
  async function refused(bytes: string | Buffer, message: RegExp): Promise<void> {
    const r = await verify(bytes);
    assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), message);
  }

  it('the honest files hold', async () => {
    for (const i of [0, 1]) assert.equal((await verify(text(i))).code, 0);
  });

  it('a member written twice: one parser reads the first, another the last', async () => {
    const twice = text(1).replace('"record":{', '"record":{"value":999,');
    assert.ok(twice.includes('"value":999') && twice.includes('"value":512'));
    await refused(twice, /^fieldproof verify: \S+ writes the member "value" twice in one object, which no proof does: JSON parsers differ on which one counts$/);
    await refused(text(1).replace('{"record":', '{"anchor":null,"record":').replace(/}$/, ',"anchor":null}'), /writes the member "anchor" twice/);
    await refused(text(1).replace('{"record":', '{"\\u009b2K":1,"\\u009b2K":1,"record":'), /writes the member "\\u009b2K" twice/);
  });

  it('a number written otherwise than the device signed it, which parses to what it signed', async () => {
    await refused(text(0).replace('9007199254740992', '9007199254740993'),
      /^fieldproof verify: \S+ writes the number 9007199254740993, which is not how the number it parses to is written \(9007199254740992\): JSON parsers may read another number than the one signed$/);
    await refused(text(1).replace('"value":512', '"value":512.0'), /writes the number 512\.0, which is not how the number it parses to is written \(512\)/);
    await refused(text(1).replace('"index":1', '"index":1e0'), /writes the number 1e0/);
    await refused(text(1).replace('"score":1', '"score":-0'), /writes the number -0, which is not how the number it parses to is written \(0\)/);
    // Infinity, which no record can hold: the check would otherwise stop on the record's encoding, as an internal error.
    await refused(text(1).replace('"score":1', '"score":1e999'), /writes the number 1e999, which is not how the number it parses to is written \(Infinity\)/);
  });

  it('bytes that are not UTF-8, which decoding would replace with the character the device signed', async () => {
    const honest = Buffer.from(text(1), 'utf8');
    const at = honest.indexOf(Buffer.from('\ufffd', 'utf8'));
    assert.ok(at > 0);
    const invalid = Buffer.concat([honest.subarray(0, at), Buffer.from([0xff]), honest.subarray(at + 3)]);
    await refused(invalid, /^fieldproof verify: \S+ is not UTF-8 text, which every proof is$/);
  });

  it('terminal control sequences in the proof are printed as text, never sent to the terminal', async () => {
    // A forger's unknown field that, printed raw, would erase the FAIL line and write a verdict of its own.
    const fake = '\u001b[1A\u001b[2K\rok   proof holds, and ends at the device key given\u009b2K\u202e\nok   given key';
    const proof = JSON.parse(text(0)) as Record<string, unknown>;
    for (const forged of [{ ...proof, [fake]: 1 }, { ...proof, header: { ...(proof.header as object), [fake]: 1 } }]) {
      const r = await verify(JSON.stringify(forged));
      assert.equal(r.code, 1);
      assert.doesNotMatch(r.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, JSON.stringify(r.stdout));
      assert.equal(r.stdout.split('\n').length, 3, 'one FAIL line and the verdict: no line of the forger\'s');
      assert.match(r.stdout, /^FAIL (shape|header): .*unknown field \\u001b\[1A\\u001b\[2K\\u000dok {3}proof holds, and ends at the device key given\\u009b2K\\u202e\\u000aok {3}given key\n/);
      assert.match(r.stdout.trim().split('\n').at(-1)!, /^proof does NOT hold: /);
      const json = await verify(JSON.stringify(forged), '--json');
      assert.doesNotMatch(json.stdout.trim(), /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, 'nor in --json, where it is the same string, escaped');
      assert.match((JSON.parse(json.stdout) as { steps: { detail: string }[] }).steps.at(-1)!.detail, new RegExp(`unknown field ${fake.replace(/[[\]]/g, '\\$&')}`));
    }
  });
});
