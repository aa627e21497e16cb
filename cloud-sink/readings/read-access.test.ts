// Who may read: the rule on the request's own peer address and bearer token (a request from
// beyond loopback cannot be made on a machine whose only network is loopback).
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { HttpError } from '../http/replies.ts';
import { checkReadAccess } from './read-access.ts';

const TOKEN = 'read-token-0123456789';
const request = (remoteAddress: string, authorization?: string) =>
  ({ socket: { remoteAddress }, headers: authorization ? { authorization } : {} }) as unknown as IncomingMessage;
const refusal = (fn: () => void) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HttpError);
    return `${err.status} ${err.code}`;
  }
  return 'allowed';
};

test('loopback reads without a token; beyond it only with the read token', () => {
  assert.equal(refusal(() => checkReadAccess(request('127.0.0.1'), null)), 'allowed');
  assert.equal(refusal(() => checkReadAccess(request('::ffff:127.0.0.1'), null)), 'allowed');
  assert.equal(refusal(() => checkReadAccess(request('::1'), TOKEN)), 'allowed');
  assert.equal(refusal(() => checkReadAccess(request('10.1.2.3'), null)), '403 read_disabled');
  assert.equal(refusal(() => checkReadAccess(request('10.1.2.3'), TOKEN)), '401 unauthorized');
  assert.equal(refusal(() => checkReadAccess(request('10.1.2.3', `Bearer ${TOKEN}x`), TOKEN)), '401 unauthorized');
  assert.equal(refusal(() => checkReadAccess(request('10.1.2.3', `Bearer ${TOKEN}`), TOKEN)), 'allowed');
});
