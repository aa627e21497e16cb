import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { deviceConfigSchema } from './device-config.ts';
import { sparkplugSchema } from '../../runtime/sparkplug/config.ts';

describe('sparkplug config', () => {
  it('needs only url and group', () => {
    const c = deviceConfigSchema.parse({ device: 'site-a-gw1', dataDir: '/tmp/x', sparkplug: { url: 'mqtt://127.0.0.1:1883', group: 'site-a' } });
    assert.equal(c.sparkplug?.qos, 1);
    assert.equal(c.sparkplug?.rejectUnauthorized, true);
  });

  it('accepts the sample', () => {
    const sample = parse(readFileSync(fileURLToPath(new URL('../../runtime/sparkplug/sparkplug.sample.yaml', import.meta.url)), 'utf8')) as { sparkplug: unknown };
    assert.equal(sparkplugSchema.parse(sample.sparkplug).group, 'site-a');
  });

  it('refuses a group that is not one topic level, a url that is not MQTT, both password forms, a cert without its key', () => {
    const ok = { url: 'mqtt://127.0.0.1', group: 'site-a' };
    for (const group of ['a/b', 'a+', '#', 'with space', '']) assert.equal(sparkplugSchema.safeParse({ ...ok, group }).success, false, group);
    assert.equal(sparkplugSchema.safeParse({ ...ok, url: 'http://127.0.0.1' }).success, false);
    assert.equal(sparkplugSchema.safeParse({ ...ok, password: 'x', passwordFile: '/p' }).success, false);
    assert.equal(sparkplugSchema.safeParse({ ...ok, cert: '/c' }).success, false);
    assert.equal(sparkplugSchema.safeParse({ ...ok, topicPrefix: 'x' }).success, false);
  });
});
