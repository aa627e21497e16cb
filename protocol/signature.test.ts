import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKey, keyFromSeed, signBytes, verifyBytes } from './signature.ts';

// RFC 8032 section 7.1, Ed25519 TEST 1..3.
const vectors = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

test('RFC 8032 vectors: public key, signature, verification', () => {
  for (const v of vectors) {
    const key = keyFromSeed(v.secret);
    assert.equal(key.public, v.public);
    const msg = Buffer.from(v.message, 'hex');
    assert.equal(signBytes(key, msg), v.signature);
    assert.equal(verifyBytes(v.public, msg, v.signature), true);
  }
});

test('a changed message, signature or key does not verify', () => {
  const v = vectors[2]!;
  const msg = Buffer.from(v.message, 'hex');
  assert.equal(verifyBytes(v.public, Buffer.from('af83', 'hex'), v.signature), false);
  const badSig = (v.signature[0] === '0' ? '1' : '0') + v.signature.slice(1);
  assert.equal(verifyBytes(v.public, msg, badSig), false);
  assert.equal(verifyBytes(vectors[0]!.public, msg, v.signature), false);
  assert.equal(verifyBytes('zz', msg, v.signature), false);
  assert.equal(verifyBytes(v.public, msg, 'abc'), false);
});

test('generated keys round-trip through their seed', () => {
  const k = generateKey();
  assert.equal(keyFromSeed(k.secret).public, k.public);
  assert.match(k.public, /^[0-9a-f]{64}$/);
});

/** The curve points of small order (the identity, orders 2, 4 and 8), as 32-byte encodings. */
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000', '0000000000000000000000000000000000000000000000000000000000000080',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
];

test('a signature has one form, and no key verifies every message', () => {
  // S + L verifies under a lax verifier: a second signature, so a second header hash, for one signed header.
  const v = vectors[2]!;
  const sig = Buffer.from(v.signature, 'hex');
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  const s = BigInt('0x' + Buffer.from(sig.subarray(32)).reverse().toString('hex')) + L;
  const mauled = Buffer.concat([sig.subarray(0, 32), Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse()]);
  assert.equal(verifyBytes(v.public, Buffer.from(v.message, 'hex'), mauled.toString('hex')), false);
  // Under a key of small order, R of small order and S = 0 satisfy the cofactorless equation for
  // about one message in eight: anyone could sign for a device given such a key.
  for (const key of SMALL_ORDER) {
    for (let m = 0; m < 16; m++) {
      for (const r of SMALL_ORDER) assert.equal(verifyBytes(key, Buffer.from(`batch ${m}`), r + '00'.repeat(32)), false, `key ${key}, R ${r}`);
    }
  }
});
