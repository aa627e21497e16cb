// The simulator answers pages as a full node does: CORS for GET and POST from any origin, with the
// preflight a JSON view call needs; nothing for a request without an Origin; other methods refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { ChainFixture } from '../anchor/chain-testing.ts';

describe('the Aptos simulator\'s CORS', () => {
  const fx = new ChainFixture();
  const origin = 'http://127.0.0.1:8080';
  before(() => fx.start());
  after(() => fx.stop());

  const ask = async (method: 'GET' | 'POST' | 'OPTIONS', path: string, headers: Record<string, string>, body?: string) => {
    const res = await request(`${fx.url}${path}`, { method, headers, body });
    await res.body.text();
    return { status: res.statusCode, headers: res.headers };
  };

  it('answers the preflight of a JSON view call with the origin, the methods and the header asked for', async () => {
    const pre = await ask('OPTIONS', '/view', { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers['access-control-allow-origin'], origin);
    assert.equal(pre.headers['access-control-allow-credentials'], 'true');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET, POST');
    assert.equal(pre.headers['access-control-allow-headers'], 'content-type');
    assert.equal(pre.headers.vary, 'Origin');
  });

  it('names the origin on the answer itself, errors included', async () => {
    const view = await ask('POST', '/view', { origin, 'content-type': 'application/json' }, JSON.stringify({ function: `${fx.operator().module}::anchor_count`, type_arguments: [], arguments: [fx.operator().address] }));
    assert.equal(view.status, 200);
    assert.equal(view.headers['access-control-allow-origin'], origin);
    const missing = await ask('GET', `/transactions/by_hash/0x${'12'.repeat(32)}`, { origin });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['access-control-allow-origin'], origin);
  });

  it('sends no CORS headers without an Origin, and refuses the preflight of another method', async () => {
    const plain = await ask('GET', '', {});
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['access-control-allow-origin'], undefined);
    const put = await ask('OPTIONS', '/view', { origin, 'access-control-request-method': 'PUT' });
    assert.equal(put.status, 403);
    assert.equal(put.headers['access-control-allow-origin'], undefined);
  });
});
