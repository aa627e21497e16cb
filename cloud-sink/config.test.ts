import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../kernel/config/errors.ts';
import { parseYamlConfig } from '../kernel/config/load.ts';
import { invalidDeviceKeys, loadSinkConfig, sinkConfigSchema } from './config.ts';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

describe('sink config', () => {
  it('accepts the minimal sink.yaml of docs/spec/configs.md exactly as written, with defaults for the rest', () => {
    const c = loadSinkConfig(here('./testcases/minimal-sink/sink.yaml'));
    assert.equal(c.listen, '127.0.0.1:8787');
    assert.equal(c.dataDir, '/var/lib/fieldproof-sink');
    assert.equal(c.anchor.mode, 'none');
    assert.equal(c.store.kind, 'level');
    assert.deepEqual(invalidDeviceKeys(c), ['site-a-gw1'], 'the placeholder key is flagged, not fatal');
  });

  it('accepts the sample config', () => {
    const c = loadSinkConfig(here('./sink.sample.yaml'));
    assert.deepEqual(invalidDeviceKeys(c), []);
  });

  for (const [name, yaml, message] of [
    ['an unknown key', 'listen: 127.0.0.1:1\ndataDir: x\nlisten2: 1\n', /unknown key listen2/],
    ['a bad listen address', 'listen: localhost\ndataDir: x\n', /listen: must be host:port/],
    ['aptos mode without its section', 'dataDir: x\nanchor:\n  mode: aptos\n', /anchor.aptos: mode aptos needs/],
    ['a module that is not <address>::anchor', 'dataDir: x\nanchor:\n  mode: aptos\n  aptos:\n    node: http://n/v1\n    module: cafe::anchor\n', /module: must be/],
    ['postgres with a bad schema name', 'dataDir: x\nstore:\n  kind: postgres\n  schema: Bad-Name\n', /schema/],
  ] as const) {
    it(`refuses ${name} with one line naming the key`, () => {
      assert.throws(() => parseYamlConfig('sink.yaml', yaml, sinkConfigSchema), (e: unknown) => e instanceof ConfigError && message.test(e.message) && !e.message.includes('\n'));
    });
  }
});
