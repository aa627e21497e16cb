// The ABI JSON is kept by hand beside the Move source (no Move compiler here): these tests hold
// the two together in both directions (every public function and struct of the source is in the
// ABI exactly, and nothing else is), the TypeScript side to the ABI, and the Move unit tests to
// the abort codes the module declares.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TypeTagBool, TypeTagU64, TypeTagVector } from '@aptos-labs/ts-sdk';
import { entryFunctionAbi, loadAnchorAbi, viewFunctionAbi } from './abi.ts';

const read = (rel: string) => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');
const source = read('../../move/sources/anchor.move');
const testSource = read('../../move/tests/device_keys_tests.move');
/** the module without its #[test_only] items and #[test] functions */
const productSource = source.slice(0, source.indexOf('#[test_only]'));

/** A type as the source spells it, as the ABI spells it (the ABI names structs in full; the file's address is 0x0). */
function abiSpelling(type: string): string {
  return type.trim().replace(/(?<!::)\bString\b/g, '0x1::string::String').replace(/(?<!::)\b(DeviceKey|Anchor)\b/g, '0x0::anchor::$1')
    .replace(/(?<!::)\bTable</g, '0x1::table::Table<');
}

interface SourceFunction { name: string; params: string[]; ret: string[]; entry: boolean; view: boolean }

/** Every `public [entry] fun` of the module outside the test-only part, with the #[view] before it. */
function sourceFunctions(): SourceFunction[] {
  const re = /(#\[view\]\s*\n(?:\s*\/\/\/[^\n]*\n)*)?\s*public (entry )?fun (\w+)\(([^)]*)\)(?:\s*:\s*([^{\s]+))?/g;
  return [...productSource.matchAll(re)].map((m) => ({
    name: m[3]!,
    params: m[4]!.split(',').map((p) => p.trim()).filter(Boolean).map((p) => abiSpelling(p.slice(p.indexOf(':') + 1))),
    ret: m[5] ? [abiSpelling(m[5])] : [],
    entry: Boolean(m[2]),
    view: Boolean(m[1]),
  }));
}

interface SourceStruct { name: string; abilities: string[]; event: boolean; fields: { name: string; type: string }[] }

function sourceStructs(): SourceStruct[] {
  const re = /(#\[event\]\s*\n(?:\s*\/\/\/[^\n]*\n)*)?\s*struct (\w+) has ([\w, ]+) \{([^}]*)\}/g;
  return [...productSource.matchAll(re)].map((m) => ({
    name: m[2]!,
    abilities: m[3]!.split(',').map((a) => a.trim()).sort(),
    event: Boolean(m[1]),
    fields: m[4]!.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('//'))
      .flatMap((l) => l.replace(/,$/, '').split(/,\s*(?=\w+:)/))
      .map((f) => ({ name: f.slice(0, f.indexOf(':')).trim(), type: abiSpelling(f.slice(f.indexOf(':') + 1)) })),
  }));
}

describe('anchor module ABI', () => {
  const abi = loadAnchorAbi();

  it('has exactly the public functions of anchor.move, with their signatures', () => {
    const fromSource = sourceFunctions();
    assert.deepEqual(abi.exposed_functions.map((f) => f.name).sort(), fromSource.map((f) => f.name).sort());
    for (const f of abi.exposed_functions) {
      const sig = fromSource.find((s) => s.name === f.name)!;
      assert.deepEqual({ params: f.params, ret: f.return, entry: f.is_entry, view: f.is_view }, { params: sig.params, ret: sig.ret, entry: sig.entry, view: sig.view }, f.name);
      assert.equal(f.visibility, 'public');
      assert.deepEqual(f.generic_type_params, []);
    }
  });

  it('has exactly the structs and events of anchor.move, field by field', () => {
    const fromSource = sourceStructs();
    assert.deepEqual(abi.structs.map((s) => s.name).sort(), fromSource.map((s) => s.name).sort());
    for (const s of abi.structs) {
      const src = fromSource.find((x) => x.name === s.name)!;
      assert.deepEqual({ abilities: [...s.abilities].sort(), event: s.is_event, fields: s.fields }, { abilities: src.abilities, event: src.event, fields: src.fields }, s.name);
    }
    assert.deepEqual(abi.structs.filter((s) => s.is_event).map((s) => s.name).sort(), ['DeviceKeyRegistered', 'DeviceKeyRevoked', 'DeviceKeyRotated', 'RootAnchored']);
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

  it('gives the device key functions their argument types, the signer supplied by the chain', () => {
    for (const name of ['register_device_key', 'replace_device_key', 'revoke_device_key']) {
      const e = entryFunctionAbi(abi, name);
      assert.equal(e.signers, 1);
      assert.deepEqual(e.parameters.map((p) => p.toString()), ['0x1::string::String', 'vector<u8>', 'u64'], name);
    }
    assert.deepEqual(entryFunctionAbi(abi, 'rotate_device_key').parameters.map((p) => p.toString()), ['0x1::string::String', 'vector<u8>', 'u64', 'vector<u8>']);
    const valid = viewFunctionAbi(abi, 'key_valid_at');
    assert.deepEqual(valid.parameters.map((p) => p.toString()), ['address', '0x1::string::String', 'vector<u8>', 'u64']);
    assert.ok(valid.returnTypes[0] instanceof TypeTagBool);
    assert.equal(viewFunctionAbi(abi, 'device_keys').returnTypes[0]!.toString(), 'vector<0x0::anchor::DeviceKey>');
    assert.throws(() => entryFunctionAbi(abi, 'key_valid_at'), /not an entry function/);
  });

  it('has a Move unit test for every abort code the module declares, and calls every public function in a test', () => {
    const categories: Record<string, number> = { invalid_argument: 1, invalid_state: 3, permission_denied: 5, not_found: 6, already_exists: 8, resource_exhausted: 9 };
    const tests = source.slice(source.indexOf('#[test_only]')) + testSource;
    const constants = [...productSource.matchAll(/const (E_\w+): u64 = (\d+);/g)];
    assert.ok(constants.length >= 16);
    for (const [, name, value] of constants) {
      const uses = [...productSource.matchAll(new RegExp(`error::(\\w+)\\(${name}\\)`, 'g'))].map((m) => m[1]!);
      assert.ok(uses.length > 0, `${name} is used`);
      for (const category of new Set(uses)) {
        const code = `0x${((categories[category]! << 16) | Number(value)).toString(16)}`;
        assert.match(tests, new RegExp(`abort_code = ${code}\\b`), `a test expects ${name} (${category}, ${code})`);
      }
    }
    for (const f of abi.exposed_functions) assert.match(tests, new RegExp(`\\b${f.name}\\(`), `a test calls ${f.name}`);
  });
});
