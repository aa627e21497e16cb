import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../kernel/config/errors.ts';
import { parseYamlConfig } from '../kernel/config/load.ts';
import { invalidDeviceKeys, loadSinkConfig, sinkConfig, sinkConfigSchema } from './config.ts';

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

  it('reads a device key pasted in capitals as the key it is, not as a placeholder', () => {
    const key = 'ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789';
    const c = parseYamlConfig('sink.yaml', `dataDir: x\ndevices:\n  - id: site-a-gw1\n    key: ${key}\n`, sinkConfigSchema);
    assert.equal(c.devices[0]!.key, key.toLowerCase());
    assert.deepEqual(invalidDeviceKeys(c), []);
  });

  it('takes the MRV report section with the grid factor\'s provenance and the project as YAML writes them', () => {
    const c = parseYamlConfig('sink.yaml', `dataDir: x
report:
  project: { id: VCS 1, methodology: ACM0002, methodologyVersion: "22.0", creditingPeriod: { from: 2025-01-01, to: 2031-12-31 } }
  gridEmissionFactor: { tco2PerMwh: 0.62, method: combined margin, tool: TOOL07, toolVersion: "07.0", grid: G, vintage: 2021-2023, source: S }
  projectEmissions: { tco2ePerMwh: 0, basis: none }
`, sinkConfigSchema);
    assert.equal(c.report.project?.creditingPeriod.from, '2025-01-01');
    assert.equal(c.report.gridEmissionFactor?.vintage, '2021-2023');
    assert.equal(c.report.gridEmissionFactor?.determination, 'ex-ante');
    assert.equal(c.report.calibrationOverdue, 'reduce');
  });

  it('accepts the sample config', () => {
    const c = loadSinkConfig(here('./sink.sample.yaml'));
    assert.deepEqual(invalidDeviceKeys(c), []);
  });

  it('lists every limit in the sample config, with its default', () => {
    const text = readFileSync(here('./sink.sample.yaml'), 'utf8');
    const block = text.slice(text.indexOf('# limits:'), text.indexOf('# report:'));
    const documented = Object.fromEntries([...block.matchAll(/^# {3}(\w+): (\d+)/gm)].map((m) => [m[1], Number(m[2])]));
    assert.deepEqual(documented, { ...sinkConfig({ dataDir: 'x' }).limits });
  });

  it('serves beyond loopback only with tls, or with insecure: true', () => {
    const parse = (yaml: string) => parseYamlConfig('sink.yaml', `dataDir: x\n${yaml}`, sinkConfigSchema);
    for (const host of ['127.0.0.1', '127.3.2.1', 'localhost', '[::1]']) assert.equal(parse(`listen: "${host}:1"\n`).insecure, false, host);
    for (const host of ['0.0.0.0', '[::]', '192.168.1.10', 'sink.example.org']) {
      assert.throws(() => parse(`listen: "${host}:8787"\n`), (e: unknown) => e instanceof ConfigError && /is reachable beyond this machine: give tls: \{cert, key\}, or insecure: true/.test(e.message), host);
      assert.equal(parse(`listen: "${host}:8787"\ninsecure: true\n`).insecure, true);
      assert.ok(parse(`listen: "${host}:8787"\ntls:\n  cert: a.pem\n  key: a.key\n`).tls);
    }
    assert.throws(() => parse('listen: 0.0.0.0:1\ninsecure: true\ntls:\n  cert: a\n  key: b\n'), /not both/);
  });

  for (const [name, yaml, message] of [
    ['an unknown key', 'listen: 127.0.0.1:1\ndataDir: x\nlisten2: 1\n', /unknown key listen2/],
    ['a bad listen address', 'listen: localhost\ndataDir: x\n', /listen: must be host:port/],
    ['aptos mode without its section', 'dataDir: x\nanchor:\n  mode: aptos\n', /anchor.aptos: mode aptos needs/],
    ['a module that is not <address>::anchor', 'dataDir: x\nanchor:\n  mode: aptos\n  aptos:\n    node: http://n/v1\n    module: cafe::anchor\n', /module: must be/],
    ['postgres with a bad schema name', 'dataDir: x\nstore:\n  kind: postgres\n  schema: Bad-Name\n', /schema/],
    ['the report\'s old unsourced emission factor', 'dataDir: x\nreport:\n  emissionFactorTco2ePerMwh: 0.4\n', /report.*emissionFactorTco2ePerMwh/],
    ['a grid emission factor without its provenance', 'dataDir: x\nreport:\n  gridEmissionFactor: { tco2PerMwh: 0.6 }\n', /report.gridEmissionFactor/],
    ['an operator key that is not a key', 'dataDir: x\nreport:\n  operators: [{ id: alice, key: abc }]\n', /report.operators.0.key/],
  ] as const) {
    it(`refuses ${name} with one line naming the key`, () => {
      assert.throws(() => parseYamlConfig('sink.yaml', yaml, sinkConfigSchema), (e: unknown) => e instanceof ConfigError && message.test(e.message) && !e.message.includes('\n'));
    });
  }
});
