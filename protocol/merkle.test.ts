import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { inclusionPath, leafHash, levelsPath, merkleLevels, merkleRoot, rootFromInclusionPath, rootFromLeafHashes, splitPoint, verifyInclusion } from './merkle.ts';

// The reference: RFC 6962 2.1 written as literally as possible, recursion and all.
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return createHash('sha256').digest();
  if (d.length === 1) return createHash('sha256').update(Buffer.from([0])).update(d[0]!).digest();
  const k = splitPoint(d.length);
  return createHash('sha256').update(Buffer.from([1])).update(mth(d.slice(0, k))).update(mth(d.slice(k))).digest();
}

// PATH(m, D[n]) of RFC 6962 2.1.1, literally.
function path(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = splitPoint(d.length);
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}

// The inputs of the Certificate Transparency reference tests, and the roots they publish.
const ctLeaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const ctRoots = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

test('roots of the Certificate Transparency reference trees', () => {
  for (let n = 1; n <= ctLeaves.length; n++) {
    assert.equal(merkleRoot(ctLeaves.slice(0, n)).toString('hex'), ctRoots[n - 1], `n=${n}`);
  }
});

test('empty tree is SHA-256 of the empty string', () => {
  assert.equal(merkleRoot([]).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('n = 1..9: root equals the recursive definition, and every leaf proof verifies', () => {
  for (let n = 1; n <= 9; n++) {
    const data = Array.from({ length: n }, (_, i) => Buffer.from(`leaf ${i}`));
    const leaves = data.map(leafHash);
    const root = rootFromLeafHashes(leaves);
    assert.deepEqual(root, mth(data), `root n=${n}`);
    for (let m = 0; m < n; m++) {
      const p = inclusionPath(leaves, m);
      assert.deepEqual(p, path(m, data), `path m=${m} n=${n}`);
      assert.equal(verifyInclusion(leaves[m]!, m, n, p, root), true, `verify m=${m} n=${n}`);
    }
  }
});

test('hand-checked n = 3: the path of leaf 2 is the root of leaves 0..1', () => {
  const data = ['a', 'b', 'c'].map((s) => Buffer.from(s));
  const [a, b, c] = data.map(leafHash) as [Buffer, Buffer, Buffer];
  const ab = createHash('sha256').update(Buffer.from([1])).update(a).update(b).digest();
  assert.deepEqual(inclusionPath([a, b, c], 2), [ab]);
  assert.deepEqual(inclusionPath([a, b, c], 0), [b, c]);
  const root = createHash('sha256').update(Buffer.from([1])).update(ab).update(c).digest();
  assert.deepEqual(rootFromLeafHashes([a, b, c]), root);
});

test('proofs fail for a wrong leaf, index, size, path element or path length', () => {
  const leaves = Array.from({ length: 7 }, (_, i) => leafHash(`x${i}`));
  const root = rootFromLeafHashes(leaves);
  const p = inclusionPath(leaves, 3);
  assert.equal(verifyInclusion(leaves[4]!, 3, 7, p, root), false);
  assert.equal(verifyInclusion(leaves[3]!, 2, 7, p, root), false);
  // The size matters where it changes the tree's shape along the path: the last leaf of 7 is a
  // right child at the bottom in a tree of 8.
  assert.equal(verifyInclusion(leaves[6]!, 6, 8, inclusionPath(leaves, 6), root), false);
  assert.equal(verifyInclusion(leaves[6]!, 6, 7, inclusionPath(leaves, 6), root), true);
  assert.equal(verifyInclusion(leaves[3]!, 3, 7, p.slice(0, -1), root), false);
  assert.equal(verifyInclusion(leaves[3]!, 3, 7, [...p, p[0]!], root), false);
  const flipped = p.map((h, i) => (i === 1 ? Buffer.from(h.map((byte, j) => (j === 0 ? byte ^ 1 : byte))) : h));
  assert.equal(verifyInclusion(leaves[3]!, 3, 7, flipped, root), false);
  assert.equal(rootFromInclusionPath(leaves[3]!, 7, 7, p), null);
  assert.equal(rootFromInclusionPath(leaves[3]!, -1, 7, p), null);
});

test('larger trees: every proof of a 100-leaf tree verifies', () => {
  const leaves = Array.from({ length: 100 }, (_, i) => leafHash(String(i)));
  const root = rootFromLeafHashes(leaves);
  for (let m = 0; m < 100; m++) assert.equal(verifyInclusion(leaves[m]!, m, 100, inclusionPath(leaves, m), root), true);
});

test('the levels of a tree give every leaf the same path as PATH(m, D[n]), and its root on top', () => {
  for (let n = 1; n <= 70; n++) {
    const leaves = Array.from({ length: n }, (_, i) => leafHash(`leaf ${n}.${i}`));
    const levels = merkleLevels(leaves);
    assert.deepEqual(levels.at(-1), rootFromLeafHashes(leaves), `root n=${n}`);
    for (let m = 0; m < n; m++) assert.deepEqual(levelsPath(levels, m), inclusionPath(leaves, m), `path m=${m} n=${n}`);
    assert.throws(() => levelsPath(levels, n), RangeError);
  }
});

test('a duplicated last leaf makes another tree (no CVE-2012-2459), and a leaf cannot pass for an inner node', () => {
  for (let n = 1; n <= 9; n++) {
    const leaves = Array.from({ length: n }, (_, i) => leafHash(`dup ${i}`));
    const root = rootFromLeafHashes(leaves);
    const padded = [...leaves, leaves.at(-1)!];
    // Where a tree pairs an odd last node with itself, these roots agree and a path to the copy proves a leaf twice.
    assert.notDeepEqual(rootFromLeafHashes(padded), root, `n=${n}`);
    assert.equal(verifyInclusion(leaves.at(-1)!, n, n + 1, inclusionPath(padded, n), root), false);
  }
  // Second preimage: the two children of the root of four leaves, hashed as the leaf data of a two-leaf tree.
  const four = Array.from({ length: 4 }, (_, i) => leafHash(`inner ${i}`));
  const n01 = rootFromLeafHashes(four.slice(0, 2));
  const n23 = rootFromLeafHashes(four.slice(2));
  assert.notDeepEqual(merkleRoot([n01, n23]), rootFromLeafHashes(four), 'leaves are hashed with 0x00, nodes with 0x01');
  assert.notDeepEqual(merkleRoot([Buffer.concat([Buffer.from([1]), n01, n23])]), rootFromLeafHashes(four), 'a node\'s preimage as leaf data');
});
