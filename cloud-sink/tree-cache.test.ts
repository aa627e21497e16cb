import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inclusionPath, leafHash, levelsPath } from '../protocol/merkle.ts';
import { TreeCache } from './tree-cache.ts';

const leavesOf = (n: number, tag: string) => Array.from({ length: n }, (_, i) => leafHash(`${tag} ${i}`));

test('a tree is built once for a run of proofs of it, even asked for all at once, and gives the RFC 6962 paths', async () => {
  const cache = new TreeCache();
  let builds = 0;
  const leaves = leavesOf(1000, 'a');
  const build = async () => {
    builds++;
    return leaves;
  };
  const all = await Promise.all(Array.from({ length: 20 }, () => cache.levels('batch a', build)));
  for (const levels of [...all, await cache.levels('batch a', build)]) assert.deepEqual(levelsPath(levels, 617), inclusionPath(leaves, 617));
  assert.equal(builds, 1);
});

test('trees are kept within the bound on their bytes, the least recently asked going first, the newest always', async () => {
  // 8 leaves: 8 + 4 + 2 + 1 hashes of 32 bytes, 480 bytes a tree
  const cache = new TreeCache(1000);
  let builds = 0;
  const ask = (key: string, n = 8) => cache.levels(key, async () => {
    builds++;
    return leavesOf(n, key);
  });
  await ask('one');
  await ask('two');
  await ask('one'); // now the most recently asked
  await ask('three'); // over the bound: "two" goes
  assert.equal(builds, 3);
  await ask('one');
  await ask('three');
  assert.equal(builds, 3, 'one and three were kept');
  await ask('two');
  assert.equal(builds, 4, 'two was not');
  await ask('huge', 64);
  await ask('huge', 64);
  assert.equal(builds, 5, 'a tree over the bound on its own is still kept while it is the newest');
});

test('a tree that fails to build is not kept: the next ask builds it again', async () => {
  const cache = new TreeCache();
  await assert.rejects(cache.levels('x', async () => {
    throw new Error('store gone');
  }), /store gone/);
  const levels = await cache.levels('x', async () => leavesOf(3, 'x'));
  assert.equal(levels[0]!.length, 96);
});
