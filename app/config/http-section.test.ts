import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseYamlConfig } from '../../kernel/config/load.ts';
import { deviceConfigSchema } from './device-config.ts';
import { ConfigError } from '../../kernel/config/errors.ts';
import { isLoopback } from '../../kernel/net.ts';
import { httpSchema, parseListen } from '../../runtime/http/config.ts';

describe('http config', () => {
  it('defaults to 127.0.0.1:8080 without a token', () => {
    const c = httpSchema.parse({});
    assert.equal(c.listen, '127.0.0.1:8080');
    assert.equal(c.token, undefined);
  });

  it('parses host:port forms', () => {
    assert.deepEqual(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListen('[::1]:8080'), { host: '::1', port: 8080 });
    assert.deepEqual(parseListen('gateway.local:80'), { host: 'gateway.local', port: 80 });
    for (const bad of ['8080', '127.0.0.1', '127.0.0.1:70000', '::1:8080', '[nothex]:1', 'a b:1']) assert.equal(parseListen(bad), null, bad);
  });

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', '::1', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', 'gateway.local', '128.0.0.1']) assert.ok(!isLoopback(h), h);
  });

  it('refuses a non-loopback listen without a token, in one line naming the key', () => {
    const yaml = 'device: gw\ndataDir: /tmp/x\nhttp:\n  listen: 0.0.0.0:8080\n';
    assert.throws(() => parseYamlConfig('device.yaml', yaml, deviceConfigSchema), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, 'device.yaml: http.token: required when listen is not a loopback address (listen is 0.0.0.0:8080)');
      return true;
    });
    const ok = parseYamlConfig('device.yaml', yaml + '  token: 0123456789abcdef0123\n', deviceConfigSchema);
    assert.equal(ok.http?.listen, '0.0.0.0:8080');
  });

  it('refuses short tokens and unknown keys', () => {
    assert.throws(() => parseYamlConfig('d.yaml', 'device: gw\nhttp:\n  token: short\n', deviceConfigSchema), /http\.token: must be at least 16 characters/);
    assert.throws(() => parseYamlConfig('d.yaml', 'device: gw\nhttp:\n  port: 8080\n', deviceConfigSchema), /unknown key http\.port/);
    assert.throws(() => parseYamlConfig('d.yaml', 'device: gw\nhttp:\n  listen: localhost\n', deviceConfigSchema), /http\.listen: must be host:port/);
  });
});
