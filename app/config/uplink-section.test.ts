import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { deviceConfigSchema } from './device-config.ts';
import { uplinkSchema } from '../../runtime/uplink/config.ts';

describe('uplink config', () => {
  it('needs only url, as in the minimal device.yaml of docs/spec/configs.md', () => {
    const c = deviceConfigSchema.parse({ device: 'site-a-gw1', dataDir: '/tmp/x', uplink: { url: 'http://127.0.0.1:8787' } });
    assert.equal(c.uplink?.encoding, 'columnar');
    assert.equal(c.uplink?.inFlight, 6);
  });

  it('accepts the sample', () => {
    const sample = parse(readFileSync(fileURLToPath(new URL('../../runtime/uplink/uplink.sample.yaml', import.meta.url)), 'utf8')) as { uplink: unknown };
    const c = uplinkSchema.parse(sample.uplink);
    assert.equal(c.maxBytesPerSecond, 20000);
  });

  it('refuses unknown keys and a url that is not one', () => {
    assert.equal(uplinkSchema.safeParse({ url: 'http://x', retries: 3 }).success, false);
    assert.equal(uplinkSchema.safeParse({ url: 'not a url' }).success, false);
  });

  it('reads a sinkKey pasted in capitals as the lowercase key receipts carry', () => {
    const key = 'ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789';
    assert.equal(uplinkSchema.parse({ url: 'http://127.0.0.1:8787', sinkKey: key }).sinkKey, key.toLowerCase());
    assert.equal(uplinkSchema.safeParse({ url: 'http://127.0.0.1:8787', sinkKey: 'abc' }).success, false);
  });
});
