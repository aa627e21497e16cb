// The ABI JSON is kept by hand beside the Move source (no Move compiler here): these tests hold
// the two together, and the TypeScript side to the ABI.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TypeTagU64, TypeTagVector } from '@aptos-labs/ts-sdk';
import { entryFunctionAbi, loadAnchorAbi, viewFunctionAbi } from './abi.ts';

const source = readFileSync(fileURLToPath(new URL('../../move/sources/anchor.move', import.meta.url)), 'utf8');

/** `fun name(a: T, b: U): R` of the Move source, as ABI strings (&signer kept as written). */
function moveSignature(name: string): { params: string[]; ret: string[]; entry: boolean; view: boolean } {
  const re = new RegExp(`(#\\[view\\][^\\n]*\\n(?:\\s*///[^\\n]*\\n)*)?\\s*public (entry )?fun ${name}\\(([^)]*)\\)(?:\\s*:\\s*([^{\\s]+))?`, 'm');
  const m = re.exec(source);
  assert.ok(m, `anchor.move declares ${name}`);
  const params = m[3]!.split(',').map((p) => p.trim()).filter(Boolean).map((p) => p.split(':')[1]!.trim());
  return { params, ret: m[4] ? [m[4].trim()] : [], entry: Boolean(m[2]), view: Boolean(m[1]) };
}

describe('anchor module ABI', () => {
  const abi = loadAnchorAbi();

  for (const f of abi.exposed_functions) {
    it(`matches anchor.move for ${f.name}`, () => {
      const sig = moveSignature(f.name);
      assert.deepEqual(sig.params, f.params);
      assert.deepEqual(sig.ret, f.return);
      assert.equal(sig.entry, f.is_entry);
      assert.equal(sig.view, f.is_view);
    });
  }

  it('declares the event and the table the README promises', () => {
    assert.match(source, /#\[event\]\s*\n(\s*\/\/\/[^\n]*\n)*\s*struct RootAnchored has drop, store/);
    assert.match(source, /roots: Table<vector<u8>, Anchor>/);
    const ev = abi.structs.find((s) => s.name === 'RootAnchored')!;
    assert.equal(ev.is_event, true);
    for (const field of ev.fields) assert.match(source, new RegExp(`\\b${field.name}: ${field.type.replace(/[<>]/g, '\\$&')}`));
  });

  it('gives the transaction builder record_root(vector<u8>, u64, u64, u64) with one signer', () => {
    const e = entryFunctionAbi(abi);
    assert.equal(e.signers, 1);
    assert.equal(e.parameters.length, 4);
    assert.ok(e.parameters[0] instanceof TypeTagVector);
    for (const p of e.parameters.slice(1)) assert.ok(p instanceof TypeTagU64);
    const v = viewFunctionAbi(abi);
    assert.equal(v.parameters.length, 2);
    assert.ok(v.returnTypes[0] instanceof TypeTagU64);
  });

  it('has Move unit tests for the success path and each abort code', () => {
    const tests = source.match(/#\[test\(/g) ?? [];
    assert.ok(tests.length >= 6);
    for (const code of ['0x80002', '0x10001', '0x10003', '0x10004']) assert.match(source, new RegExp(`abort_code = ${code}`));
  });
});
