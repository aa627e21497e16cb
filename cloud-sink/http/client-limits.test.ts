// Who counts as one client for the sink's limits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClientLimits, clientAddress } from './client-limits.ts';

test('an IPv6 client is its /64: addresses spread over one prefix share its allowance, and its block', () => {
  assert.equal(clientAddress('2001:db8:1:2::1'), '2001:db8:1:2::/64');
  assert.equal(clientAddress('2001:0db8:0001:0002:ffff:0:0:9'), '2001:db8:1:2::/64');
  assert.equal(clientAddress('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(clientAddress('2001:db8::'), '2001:db8:0:0::/64');
  assert.notEqual(clientAddress('2001:db8:1:3::1'), clientAddress('2001:db8:1:2::1'));
  // unchanged: IPv4, IPv4 through a dual-stack listener, loopback (the pages' rule reads it), a translator's IPv4 tail
  assert.equal(clientAddress('192.0.2.7'), '192.0.2.7');
  assert.equal(clientAddress('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(clientAddress('::1'), '::1');
  assert.equal(clientAddress('64:ff9b::192.0.2.7'), '64:ff9b::192.0.2.7');

  const limits = new ClientLimits({ maxConnections: 100, maxConnectionsPerClient: 2, maxRequests: 100, maxRequestsPerClient: 2, refusalsBeforeBlock: 3, refusalWindowMs: 10_000, blockMs: 30_000 });
  const from = (i: number) => clientAddress(`2001:db8:1:2::${i.toString(16)}`);
  assert.deepEqual([1, 2, 3].map((i) => limits.openConnection(from(i)).ok), [true, true, false]);
  for (let i = 10; i < 13; i++) limits.noteRefusal(from(i));
  assert.deepEqual(limits.admit(from(99)), { ok: false, reason: 'blocked', retryAfterS: 30 });
  assert.equal(limits.admit(clientAddress('2001:db8:1:3::1')).ok, true, 'the next /64 is another client');
});
