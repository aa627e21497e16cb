import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from '../../kernel/config/errors.ts';
import { loadDeviceConfig } from './device-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'fieldproof-config-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const minimal = readFileSync(new URL('./testdata/device.yaml', import.meta.url), 'utf8');

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function problem(text: string): string {
  try {
    loadDeviceConfig(write('bad.yaml', text));
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('the config was accepted');
}

test('the minimal device.yaml of docs/spec/configs.md is accepted exactly as written', () => {
  const c = loadDeviceConfig(write('device.yaml', minimal));
  assert.equal(c.device, 'site-a-gw1');
  assert.equal(c.dataDir, '/var/lib/fieldproof');
  assert.deepEqual(c.drivers[0], { kind: 'simulated', id: 'sim', sensors: 20, intervalMs: 100, signal: 'co2', faults: [] });
  assert.equal(c.batch.maxRecords, 500);
  assert.equal(c.batch.maxAgeMs, 1000);
  assert.ok(c.batch.maxBytes > 0, 'defaults fill the rest');
  assert.equal(c.journal.policy, 'drop-oldest');
  assert.equal(c.uplink?.url, 'http://127.0.0.1:8787');
});

test('an unknown key, at the top or nested, is named', () => {
  assert.match(problem(minimal + 'colour: blue\n'), /unknown key colour/);
  assert.match(problem(minimal.replace('maxAgeMs: 1000', 'maxAgeMs: 1000\n  maxAgeMS: 5')), /unknown key batch\.maxAgeMS/);
  assert.match(problem(minimal.replace('intervalMs: 100 ', 'intervalMs: 100\n    interval: 5 ')), /unknown key drivers\.0\.interval/);
});

test('a wrong type or value names the key', () => {
  assert.match(problem(minimal.replace('maxRecords: 500', 'maxRecords: "many"')), /^.*bad\.yaml: batch\.maxRecords: .*number/);
  assert.match(problem(minimal.replace('sensors: 20 ', 'sensors: -3 ')), /drivers\.0\.sensors/);
  assert.match(problem(minimal.replace('kind: simulated', 'kind: teleporter')), /drivers\.0\.kind/);
  assert.match(problem(minimal.replace('device: site-a-gw1', 'device: "site a/gw1"')), /device: must be/);
  assert.match(problem(minimal.replace('url: http://127.0.0.1:8787', 'url: not a url')), /uplink\.url/);
  assert.match(problem(minimal + 'journal:\n  policy: drop-newest\n'), /journal\.policy/);
});

test('bad YAML, an empty file and a missing file are one-line errors', () => {
  assert.match(problem('device: [unclosed\n'), /not valid YAML/);
  assert.match(problem(minimal + 'device: again\n'), /not valid YAML: Map keys must be unique at line \d+, column \d+$/);
  assert.match(problem(''), /device/);
  assert.throws(() => loadDeviceConfig(join(dir, 'nope.yaml')), /config file .*nope\.yaml does not exist/);
});

test('dataDir: required unless under a snap; relative to the config file', () => {
  const without = minimal.replace(/^dataDir:.*$/m, '');
  const saved = process.env.SNAP_DATA;
  try {
    delete process.env.SNAP_DATA;
    assert.match(problem(without), /dataDir: required/);
    process.env.SNAP_DATA = '/var/snap/fieldproof/x1';
    assert.equal(loadDeviceConfig(write('snap.yaml', without)).dataDir, '/var/snap/fieldproof/x1');
  } finally {
    if (saved === undefined) delete process.env.SNAP_DATA;
    else process.env.SNAP_DATA = saved;
  }
  const rel = loadDeviceConfig(write('rel.yaml', minimal.replace('/var/lib/fieldproof', './data')));
  assert.equal(rel.dataDir, join(dir, 'data'));
});

test('YAML anchors with merge keys (<<) and Windows line endings are read as an operator means them', () => {
  const shared = minimal.replace(
    /drivers:\n[\s\S]*?\nbatch:/,
    'drivers:\n  - &sim\n    kind: simulated\n    id: sim\n    sensors: 2\n    intervalMs: 100\n  - <<: *sim\n    id: sim2\n    sensors: 3\nbatch:',
  );
  const c = loadDeviceConfig(write('anchors.yaml', shared.replace(/\n/g, '\r\n')));
  assert.deepEqual(
    c.drivers.map((d) => [d.kind, d.id, 'sensors' in d ? d.sensors : undefined, 'intervalMs' in d ? d.intervalMs : undefined]),
    [['simulated', 'sim', 2, 100], ['simulated', 'sim2', 3, 100]],
  );
  assert.equal(c.device, 'site-a-gw1', 'no carriage return left on a value');
  assert.equal(c.uplink?.url, 'http://127.0.0.1:8787');
});

test('an optional section with everything under it commented out is read as left out', () => {
  const c = loadDeviceConfig(write('no-uplink.yaml', minimal.replace(/^  url:/m, '  # url:') + 'gateway:\n  # listen: 127.0.0.1:1700\n'));
  assert.equal(c.uplink, undefined);
  assert.equal(c.gateway, undefined);
  assert.match(problem(minimal.replace(/^batch:[\s\S]*?(?=^uplink:)/m, 'batch:\n')), /batch/, 'a section with defaults still wants its keys or nothing');
});
