import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deviceConfigSchema, loadDeviceConfig } from './device-config.ts';
import { parseYamlConfig } from '../../kernel/config/load.ts';
import { loadCodecs } from '../../gateway/component.ts';
import { gatewaySchema, parseListen, resolveCodecs } from '../../gateway/config.ts';
import { CodecEngine } from '../../gateway/codecs/engine/host.ts';

const root = mkdtempSync(join(tmpdir(), 'fieldproof-gateway-config-'));
after(() => rmSync(root, { recursive: true, force: true }));

// The gateway example of docs/spec/configs.md, exactly as written there.
const SPEC_EXAMPLE = `
device: site-a-gw1
dataDir: /var/lib/fieldproof
gateway:
  listen: 127.0.0.1:1700            # Semtech UDP; 0.0.0.0:1700 on a real gateway
  devices:
    - id: node-1
      activation: abp
      devAddr: 49be7df1
      nwkSKey: 44024241ed4ce9a68c6a8bc055233fd3
      appSKey: ec925802ae430ca77fd3dd73cb2cc588
      codec: cayenne-lpp            # or: a path to a decodeUplink(input) JavaScript file
    - id: node-2
      activation: otaa
      devEui: 0004a30b001c0530
      joinEui: 70b3d57ed0000000
      appKey: 2b7e151628aed2a6abf7158809cf4f3c
      codec: cayenne-lpp
`;

const parse = (yaml: string) => parseYamlConfig('device.yaml', yaml, deviceConfigSchema);
const errorOf = (yaml: string) => {
  try {
    parse(yaml);
  } catch (e) {
    return (e as Error).message;
  }
  return null;
};

describe('gateway config', () => {
  const engine = new CodecEngine();
  before(() => engine.start());
  after(() => engine.stop());

  it('accepts the example of docs/spec/configs.md as written, with defaults for the rest', () => {
    const c = parse(SPEC_EXAMPLE).gateway!;
    assert.equal(c.listen, '127.0.0.1:1700');
    assert.equal(c.region, 'EU868');
    assert.equal(c.netId, '000000');
    assert.equal(c.codecTimeoutMs, 100);
    assert.equal(c.devices.length, 2);
    assert.equal(c.devices[1]!.activation, 'otaa');
  });

  it('the sample config beside the code loads, codecs and all', async () => {
    const file = fileURLToPath(new URL('../../gateway/sample.yaml', import.meta.url));
    const config = loadDeviceConfig(file);
    const codecs = await loadCodecs(config.gateway!, file, engine);
    assert.equal(codecs.get('node-1')!.name, 'cayenne-lpp');
    const [out] = await codecs.get('node-2')!.decodeBatch([{ bytes: Uint8Array.from([0x08, 0x3e, 0x5b, 0x0e, 0x10]), fPort: 2, recvTime: 0 }]);
    assert.ok(out && out.ok);
    assert.deepEqual(out.readings, [
      { metric: 'temperature_c', unit: 'degC', value: 21.1 }, { metric: 'humidity_pct', unit: '%', value: 45.5 }, { metric: 'battery_v', unit: 'V', value: 3.6 },
    ]);
  });

  it('takes codec variables as text, as ChirpStack stores them', () => {
    const g = gatewaySchema.parse({ devices: [{ id: 'a', activation: 'abp', devAddr: '01020304', nwkSKey: '00'.repeat(16), appSKey: '11'.repeat(16), codecVariables: { threshold: 10, unit: 'C', on: true } }] });
    assert.deepEqual(g.devices[0]!.codecVariables, { threshold: '10', unit: 'C', on: 'true' });
    assert.throws(() => gatewaySchema.parse({ devices: [{ id: 'a', activation: 'abp', devAddr: '01020304', nwkSKey: '00'.repeat(16), appSKey: '11'.repeat(16), codecVariables: { 'not a name': 'x' } }] }));
  });

  it('listens on loopback unless told otherwise', () => {
    const c = parse('device: d\ndataDir: ./data\ngateway: {}\n').gateway!;
    assert.equal(c.listen, '127.0.0.1:1700');
    assert.equal(c.gateways, undefined);
    assert.equal(c.downlinkPinMs, 30_000);
    assert.equal(c.socketThreadNice, undefined, 'the socket thread keeps the daemon priority unless asked');
  });

  it('refuses to listen beyond loopback without the gateway allow-list, in one line', () => {
    for (const listen of ['0.0.0.0:1700', '192.168.1.20:1700', '[::]:1700', '1700', 'gw.example.org:1700']) {
      const msg = errorOf(SPEC_EXAMPLE.replace('listen: 127.0.0.1:1700', `listen: "${listen}"`));
      assert.equal(msg, `device.yaml: gateway.gateways: required when listen is not a loopback address (listen is ${listen}): the EUIs of the packet forwarders to accept`);
    }
    assert.match(errorOf(SPEC_EXAMPLE.replace('listen: 127.0.0.1:1700', 'listen: 0.0.0.0:1700\n  gateways: []'))!, /^device\.yaml: gateway\.gateways: list at least one gateway EUI/);
    const open = parse(SPEC_EXAMPLE.replace('listen: 127.0.0.1:1700', 'listen: 0.0.0.0:1700\n  gateways: [AA555A0000000101]')).gateway!;
    assert.deepEqual(open.gateways, ['aa555a0000000101']);
    for (const listen of ['127.0.0.1:1700', '127.0.0.2:1700', '[::1]:1700', 'localhost:1700']) {
      assert.equal(errorOf(SPEC_EXAMPLE.replace('listen: 127.0.0.1:1700', `listen: "${listen}"`)), null, listen);
    }
  });

  it('fieldproof run refuses such a config before it opens anything: one line, exit 2', () => {
    const dir = mkdtempSync(join(root, 'open-'));
    const file = join(dir, 'device.yaml');
    writeFileSync(file, SPEC_EXAMPLE.replace('dataDir: /var/lib/fieldproof', `dataDir: ${join(dir, 'data')}`).replace('listen: 127.0.0.1:1700', 'listen: 0.0.0.0:1700'));
    const bin = fileURLToPath(new URL('../../bin/fieldproof.js', import.meta.url));
    const r = spawnSync(process.execPath, [bin, 'run', '--config', file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, `fieldproof run: ${file}: gateway.gateways: required when listen is not a loopback address (listen is 0.0.0.0:1700): the EUIs of the packet forwarders to accept\n`);
    assert.equal(r.stdout, '');
  });

  it('refuses a LoRaWAN device whose sensor names can be another source\'s, so that a node cannot journal readings as the meter', () => {
    const meter = '  - kind: ion7550\n    id: pv-meter-1\n    tcp: { host: 127.0.0.1, port: 502 }\n    unit: 100\n';
    const withDrivers = (drivers: string, yaml = SPEC_EXAMPLE) => yaml.replace('gateway:', `drivers:\n${drivers}gateway:`);
    const cases: [string, RegExp][] = [
      // node pv-meter: its Cayenne LPP channel 1 is sensor pv-meter-1, the meter's
      [withDrivers(meter, SPEC_EXAMPLE.replace('id: node-1', 'id: pv-meter')), /^device\.yaml: gateway\.devices\.0\.id: sensor pv-meter-1 of drivers\.0 is also a name gateway\.devices\.0 \(pv-meter\) gives its numbered sensors \(pv-meter-<n>\): rename one$/],
      [withDrivers(meter, SPEC_EXAMPLE.replace('id: node-1', 'id: pv-meter-1')), /gateway\.devices\.0\.id: pv-meter-1 is also the id of drivers\.0: their readings would share sensor names/],
      // a simulated driver's sensors are node-1, node-2: the LoRaWAN devices' names
      [withDrivers('  - kind: simulated\n    id: node\n    sensors: 2\n'), /gateway\.devices\.0\.id: sensor node-1 of gateway\.devices\.0 is also a name drivers\.0 \(node\)/],
    ];
    for (const [yaml, re] of cases) {
      const msg = errorOf(yaml);
      assert.ok(msg && re.test(msg) && !msg.includes('\n'), `${re}: got ${msg}`);
    }
    // names that only share a beginning are fine: a meter pv-meter-1 and simulated sensors pv-1, pv-2
    assert.equal(errorOf(withDrivers(`${meter}  - kind: simulated\n    id: pv\n    sensors: 2\n`)), null);
  });

  it('a device without a gateway section has none', () => {
    assert.equal(parse('device: d\ndataDir: ./data\n').gateway, undefined);
  });

  it('names the offending key in one line', () => {
    const cases: [string, RegExp][] = [
      [SPEC_EXAMPLE.replace('devAddr: 49be7df1', 'devAddr: 49be7d'), /^device\.yaml: gateway\.devices\.0\.devAddr: devAddr must be 8 hex digits$/],
      [SPEC_EXAMPLE.replace('appKey: 2b7e', 'appKey: zz7e'), /gateway\.devices\.1\.appKey: appKey must be 32 hex digits/],
      [SPEC_EXAMPLE.replace('activation: abp', 'activation: magic'), /gateway\.devices\.0\.activation/],
      [SPEC_EXAMPLE.replace('listen: 127.0.0.1:1700', 'listen: nowhere'), /gateway\.listen: must be host:port/],
      [SPEC_EXAMPLE.replace('id: node-2', 'id: node-1'), /gateway\.devices\.1\.id: same id as devices\.0/],
      [SPEC_EXAMPLE.replace('  devices:', '  netId: "123456"\n  devices:'), /gateway\.netId: only type 0 NetIDs/],
      [SPEC_EXAMPLE.replace('  devices:', '  region: MARS\n  devices:'), /gateway\.region/],
      [SPEC_EXAMPLE.replace('  devices:', '  colour: blue\n  devices:'), /unknown key gateway\.colour/],
    ];
    for (const [yaml, re] of cases) {
      const msg = errorOf(yaml);
      assert.ok(msg && re.test(msg) && !msg.includes('\n'), `${re}: got ${msg}`);
    }
  });

  it('parses listen addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:1700'), { host: '127.0.0.1', port: 1700 });
    assert.deepEqual(parseListen('0.0.0.0:1700'), { host: '0.0.0.0', port: 1700 });
    assert.deepEqual(parseListen('[::1]:1700'), { host: '::1', port: 1700 });
    assert.deepEqual(parseListen('1700'), { host: '0.0.0.0', port: 1700 });
    assert.deepEqual(parseListen(':1700'), { host: '0.0.0.0', port: 1700 });
    assert.equal(parseListen('host:70000'), null);
    assert.equal(parseListen('host'), null);
  });

  it('resolves codec files against the config file folder and reports a missing one in one line', async () => {
    const dir = mkdtempSync(join(root, 'codecs-'));
    writeFileSync(join(dir, 'vendor.js'), 'function decodeUplink(input) { return { data: { n: input.bytes.length } }; }');
    writeFileSync(join(dir, 'broken.js'), 'function decodeUplink(input) { return {');
    const g = gatewaySchema.parse({
      devices: [
        { id: 'a', activation: 'abp', devAddr: '01020304', nwkSKey: '00'.repeat(16), appSKey: '11'.repeat(16), codec: './vendor.js' },
        { id: 'b', activation: 'abp', devAddr: '01020305', nwkSKey: '00'.repeat(16), appSKey: '11'.repeat(16), codec: 'vendor.js' },
        { id: 'c', activation: 'abp', devAddr: '01020306', nwkSKey: '00'.repeat(16), appSKey: '11'.repeat(16) },
      ],
    });
    const file = join(dir, 'device.yaml');
    const refs = resolveCodecs(g, file);
    assert.deepEqual(refs.get('a'), { kind: 'file', path: join(dir, 'vendor.js') });
    assert.deepEqual(refs.get('b'), refs.get('a'));
    assert.deepEqual(refs.get('c'), { kind: 'builtin', name: 'cayenne-lpp' });
    const codecs = await loadCodecs(g, file, engine);
    assert.equal(codecs.get('a'), codecs.get('b'), 'one compiled codec per file');

    g.devices[1]!.codec = './nope.js';
    assert.throws(() => resolveCodecs(g, file), (e: Error) => e.name === 'ConfigError' && /^.*device\.yaml: gateway\.devices\.1\.codec: \.\/nope\.js is neither cayenne-lpp nor an existing file/.test(e.message) && !e.message.includes('\n'));
    g.devices[1]!.codec = './broken.js';
    await assert.rejects(loadCodecs(g, file, engine), (e: Error) => e.name === 'ConfigError' && /gateway\.devices\.1\.codec: codec .*broken\.js: SyntaxError: .*\(line 1\)$/.test(e.message) && !e.message.includes('\n'));
  });
});
