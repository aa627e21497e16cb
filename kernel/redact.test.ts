import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from './log.ts';
import { redactUrl, scrubObject, scrubSecrets } from './redact.ts';

describe('redactUrl', () => {
  it('masks the password and keeps what helps find the endpoint', () => {
    assert.equal(redactUrl('postgres://fieldproof:s3cret@db.example.org:5432/fieldproof'), 'postgres://fieldproof:***@db.example.org:5432/fieldproof');
    assert.equal(redactUrl('mqtts://device:sas-token-123@hub.example.net:8883'), 'mqtts://device:***@hub.example.net:8883');
    assert.equal(redactUrl('https://user:p%40ss@sink.example.org/base'), 'https://user:***@sink.example.org/base');
  });

  it('masks a user name given alone, which is usually a token', () => {
    assert.equal(redactUrl('https://ghp_abcdef0123456789@sink.example.org/'), 'https://***@sink.example.org/');
  });

  it('masks secret-looking query values and any fragment, not the other parameters', () => {
    assert.equal(redactUrl('postgres://db/x?sslmode=require&password=pw1'), 'postgres://db/x?sslmode=require&password=***');
    assert.equal(redactUrl('https://fn.example.net/api/hook?code=abc&device=gw1'), 'https://fn.example.net/api/hook?code=***&device=gw1');
    assert.equal(redactUrl('https://acct.blob.core.windows.net/c?sv=2024&sig=Zm9v'), 'https://acct.blob.core.windows.net/c?sv=2024&sig=***');
    assert.equal(redactUrl('https://app.example.org/cb#access_token=xyz'), 'https://app.example.org/cb#***');
  });

  it('shows only the host when asked, for webhooks whose path is the secret', () => {
    assert.equal(redactUrl('https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX', { hostOnly: true }), 'https://hooks.slack.com/***');
    assert.equal(redactUrl('https://hooks.example.org/', { hostOnly: true }), 'https://hooks.example.org/');
  });

  it('leaves a URL with nothing to hide exactly as it was', () => {
    for (const u of ['http://127.0.0.1:8787', 'mqtt://127.0.0.1:1883', 'https://sink.example.org/v1?from=1&to=2']) assert.equal(redactUrl(u), u);
  });

  it('handles a request path and text that is no URL', () => {
    assert.equal(redactUrl('/v1/reports/gw?from=1&token=abc'), '/v1/reports/gw?from=1&token=***');
    assert.equal(redactUrl('/v1/proofs/gw/42'), '/v1/proofs/gw/42');
    assert.equal(redactUrl('http://[bad'), 'http://[bad');
  });
});

describe('scrubSecrets', () => {
  it('masks credentials inside free text, and leaves what redactUrl masked as it is', () => {
    assert.equal(scrubSecrets(redactUrl('mqtt://dev:pw@h:1883')), 'mqtt://dev:***@h:1883');
    assert.equal(scrubSecrets('see https://ghp_tok@h/'), 'see https://***@h/');
    assert.equal(scrubSecrets('connect to postgres://u:pw@h/db failed'), 'connect to postgres://u:***@h/db failed');
    assert.equal(scrubSecrets('host=db user=u password=hunter2 dbname=x'), 'host=db user=u password=*** dbname=x');
    assert.equal(scrubSecrets('sent Authorization: Bearer abc.def.ghi'), 'sent Authorization: Bearer ***');
    assert.equal(scrubSecrets('nothing here: 127.0.0.1:8787'), 'nothing here: 127.0.0.1:8787');
  });

  it('copies only what it changes', () => {
    const clean = { a: 1, b: { c: 'plain' } };
    assert.equal(scrubObject(clean), clean);
    const dirty = { a: 1, b: { c: 'see https://u:pw@h/' }, d: ['x'] };
    const out = scrubObject(dirty);
    assert.deepEqual(out, { a: 1, b: { c: 'see https://u:***@h/' }, d: ['x'] });
    assert.equal(dirty.b.c, 'see https://u:pw@h/', 'the caller\'s object is untouched');
    assert.equal(out.d, dirty.d);
  });
});

describe('the shared logger', () => {
  function captured() {
    let text = '';
    const sink = new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } });
    return { log: createLogger('test', 'debug', sink), text: () => text };
  }
  const wait = () => new Promise((r) => setImmediate(r));

  it('never writes secret fields, however deep, nor credentials inside strings', async () => {
    const { log, text } = captured();
    log.info({ password: 'pw-top', config: { token: 'tok-nested', mqtt: { password: 'pw-deep' } } }, 'config');
    log.info({ device: { id: 'node-1', nwkSKey: '44024241ed4ce9a68c6a8bc055233fd3', appSKey: 'ec925802ae430ca77fd3dd73cb2cc588' } }, 'device');
    log.info({ otaa: { appKey: '2b7e151628aed2a6abf7158809cf4f3c' }, apiKey: 'k-123', privateKey: 'ed25519-private' }, 'keys');
    log.info({ headers: { authorization: 'Bearer hdr-secret', 'x-api-key': 'xkey-secret', 'content-type': 'application/json' } }, 'request');
    log.warn({ req: { headers: { cookie: 'session=cookie-secret' } } }, 'cookie');
    log.error({ url: 'postgres://fp:url-secret@db/x', err: 'connect to mqtt://dev:err-secret@broker:1883 refused' }, 'store failed');
    log.error({ err: new Error('GET https://tok-in-error@sink.example.org/ failed') }, 'error object');
    log.info('message with https://u:msg-secret@host/path in it');
    await wait();
    const out = text();
    for (const secret of ['pw-top', 'tok-nested', 'pw-deep', '44024241ed4ce9a68c6a8bc055233fd3', 'ec925802ae430ca77fd3dd73cb2cc588',
      '2b7e151628aed2a6abf7158809cf4f3c', 'k-123', 'ed25519-private', 'hdr-secret', 'xkey-secret', 'cookie-secret', 'url-secret',
      'err-secret', 'tok-in-error', 'msg-secret']) {
      assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
    }
    // what is not secret is still there
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    assert.equal(lines[1]!.device.id, 'node-1');
    assert.equal(lines[1]!.device.nwkSKey, '[redacted]');
    assert.equal(lines[3]!.headers['content-type'], 'application/json');
    assert.equal(lines[5]!.url, 'postgres://fp:***@db/x');
    assert.equal(lines[7]!.msg, 'message with https://u:***@host/path in it');
  });

  it('keeps the device public key, which identifies the device and is no secret', async () => {
    const { log, text } = captured();
    log.info({ key: '5f2c00112233' }, 'fieldproof running');
    await wait();
    assert.equal(JSON.parse(text()).key, '5f2c00112233');
  });
});
