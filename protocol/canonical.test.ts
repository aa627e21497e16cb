import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { canonicalize, CanonicalizationError } from './canonical.ts';

// An independent JCS implementation (a CommonJS package, hence require) to cross-check against.
const canonicalizeReference = createRequire(import.meta.url)('canonicalize') as (value: unknown) => string;

// RFC 8785 section 3.2.2 / 3.2.3: the sample input and its canonical form.
test('RFC 8785 sample: primitives, escaping and member order', () => {
  const input = JSON.parse(
    '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
      '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
      '"literals": [null, true, false]}',
  );
  assert.equal(
    canonicalize(input),
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
  );
});

test('RFC 8785 3.2.3: members sorted by UTF-16 code units', () => {
  const input = JSON.parse(
    '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One",' +
      '"\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
  );
  // Read the order off the text: JS objects list integer-like keys ("1") first whatever the order.
  const text = canonicalize(input);
  const order = ['Carriage Return', 'One', 'Control', 'Latin Small', 'Euro Sign', 'Emoji', 'Hebrew'].map((name) => text.indexOf(name));
  assert.ok(order.every((pos) => pos > 0));
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
});

// RFC 8785 appendix B: IEEE 754 bit patterns and their JCS serialisation.
const numberVectors: [string, string][] = [
  ['0000000000000000', '0'],
  ['8000000000000000', '0'],
  ['0000000000000001', '5e-324'],
  ['8000000000000001', '-5e-324'],
  ['7fefffffffffffff', '1.7976931348623157e+308'],
  ['ffefffffffffffff', '-1.7976931348623157e+308'],
  ['4340000000000000', '9007199254740992'],
  ['c340000000000000', '-9007199254740992'],
  ['4430000000000000', '295147905179352830000'],
  ['44b52d02c7e14af5', '9.999999999999997e+22'],
  ['44b52d02c7e14af6', '1e+23'],
  ['44b52d02c7e14af7', '1.0000000000000001e+23'],
  ['444b1ae4d6e2ef4e', '999999999999999700000'],
  ['444b1ae4d6e2ef4f', '999999999999999900000'],
  ['444b1ae4d6e2ef50', '1e+21'],
  ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
  ['3eb0c6f7a0b5ed8d', '0.000001'],
  ['41b3de4355555553', '333333333.3333332'],
  ['41b3de4355555554', '333333333.33333325'],
  ['41b3de4355555555', '333333333.3333333'],
  ['41b3de4355555556', '333333333.3333334'],
  ['41b3de4355555557', '333333333.33333343'],
  ['becbf647612f3696', '-0.0000033333333333333333'],
  ['43143ff3c1cb0959', '1424953923781206.2'],
];

test('RFC 8785 appendix B: number serialisation', () => {
  for (const [bits, expected] of numberVectors) {
    const value = Buffer.from(bits, 'hex').readDoubleBE(0);
    assert.equal(canonicalize(value), expected, `bits ${bits}`);
  }
});

test('NaN and Infinity cannot be encoded', () => {
  for (const bits of ['7fffffffffffffff', '7ff0000000000000']) {
    assert.throws(() => canonicalize(Buffer.from(bits, 'hex').readDoubleBE(0)), CanonicalizationError);
  }
});

test('agrees with an independent JCS implementation on nested, unicode and sparse values', () => {
  const samples: unknown[] = [
    { b: [1, { z: null, a: 'x' }], a: { '': -0, é: 'ü\u2028', '\u0000': true } },
    [[], {}, '', 0.1, 1e-7, -1e21, 123456789012345680000],
    { device: 'site-a-gw1', seq: 42, quality: { score: 0.97, flags: ['calibration_stale'] } },
    { undef: undefined, keep: 1 },
  ];
  for (const s of samples) assert.equal(canonicalize(s), canonicalizeReference(s));
});
