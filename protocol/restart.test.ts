import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalize } from './canonical.ts';
import { epochOf, headerHash, headerProblem, signHeader, verifyHeaderSignature } from './batch.ts';
import { leafHash, rootFromLeafHashes } from './merkle.ts';
import { coverProblem } from './prune-cover.ts';
import { gapRecord, recordProblem } from './records.ts';
import { restartPlacementProblem, restartRecord } from './restart.ts';
import { keyFromSeed } from './signature.ts';

const key = keyFromSeed('11'.repeat(32));
const from = { epoch: 1, batch: 7, hash: 'ab'.repeat(32) };

test('epoch is an optional header field: absent means 1, present only as an integer >= 2, and signed', () => {
  const root = rootFromLeafHashes([leafHash('x')]).toString('hex');
  const fields = { device: 'site-a-gw1', batch: 1, first: 1, last: 1, count: 1, root, prev: from.hash, created: 1 };
  const one = signHeader({ ...fields, epoch: 1 }, key);
  assert.equal('epoch' in one, false, 'epoch 1 is written by leaving the field out');
  assert.equal(epochOf(one), 1);
  const two = signHeader({ ...fields, epoch: 2 }, key);
  assert.equal(headerProblem(two), null);
  assert.equal(epochOf(two), 2);
  assert.equal(verifyHeaderSignature(two), true);
  assert.equal(verifyHeaderSignature({ ...two, epoch: 3 }), false, 'the signature covers the epoch');
  for (const bad of [1, 0, 2.5, '2', null]) assert.match(headerProblem({ ...two, epoch: bad })!, /epoch/);
  assert.match(headerProblem({ ...two, clockx: 1 })!, /unknown field clockx/);
});

test('a restart record is valid only in its exact shape and only at seq 1 of batch 1 of its epoch', () => {
  const r = restartRecord('site-a-gw1', 2, 'journal_lost', from, 3, 1763884800000);
  assert.equal(recordProblem(r), null);
  assert.equal(canonicalize(r), canonicalize(JSON.parse(JSON.stringify(r))));
  assert.match(recordProblem({ ...r, seq: 2 })!, /seq must be 1/);
  assert.match(recordProblem({ ...r, epoch: 1 })!, /epoch/);
  assert.match(recordProblem({ ...r, reason: 'bored' })!, /reason/);
  assert.match(recordProblem({ ...r, from: { ...from, epoch: 2 } })!, /earlier epoch/);
  assert.match(recordProblem({ ...r, from: { ...from, hash: 'AB'.repeat(32) } })!, /hash/);
  assert.match(recordProblem({ ...r, from: { ...from, extra: 1 } })!, /unknown field/);
  const root = rootFromLeafHashes([leafHash(canonicalize(r))]).toString('hex');
  const header = signHeader({ device: 'site-a-gw1', batch: 1, first: 1, last: 1, count: 1, root, prev: from.hash, created: 1, epoch: 2 }, key);
  assert.equal(restartPlacementProblem(r, header), null);
  assert.match(restartPlacementProblem(r, { ...header, prev: '00'.repeat(32) })!, /names a batch other/);
  assert.match(restartPlacementProblem(r, { ...header, batch: 2 })!, /first record of batch 1/);
  assert.match(restartPlacementProblem({ ...r, epoch: 3 }, header)!, /opens epoch 3/);
});

test('a header takes clock and epoch together, each only in its shape; a prune cover must be of the pruned batch\'s epoch', () => {
  const root = rootFromLeafHashes([leafHash('x')]).toString('hex');
  const fields = { device: 'site-a-gw1', batch: 1, first: 1, last: 1, count: 1, root, prev: from.hash, created: 1 };
  const both = signHeader({ ...fields, clock: { synced: true, source: 'chrony', offsetMs: 0.5 }, epoch: 2 }, key);
  assert.equal(headerProblem(both), null);
  assert.equal(verifyHeaderSignature(both), true);
  assert.match(headerProblem({ ...both, clock: { synced: 'yes', source: 'chrony' } })!, /header\.clock/);
  assert.match(headerProblem({ ...both, epoch: 1 })!, /header\.epoch/);

  const dropped = signHeader({ ...fields, prev: '00'.repeat(32) }, key);
  const gap = gapRecord('site-a-gw1', 5, 1, 1, 2, 'disk_full', [{ batch: 1, hash: headerHash(dropped) }]);
  const coverOf = (epoch: number) => ({
    header: signHeader({ ...fields, batch: 2, first: 5, last: 5, root: rootFromLeafHashes([leafHash(canonicalize(gap))]).toString('hex'), prev: headerHash(dropped), epoch }, key),
    record: gap, index: 0, path: [],
  });
  assert.equal(coverProblem(dropped, coverOf(1)), null);
  assert.equal(coverProblem(dropped, coverOf(2)), "the cover is of epoch 2, not of the pruned batch's epoch 1");
});
