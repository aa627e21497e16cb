// The sample configs shipped beside the drivers must be accepted as they stand.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deviceConfigSchema } from './device-config.ts';
import { loadYamlConfig } from '../../kernel/config/load.ts';

for (const sample of ['mhz19/sample.yaml', 'ion7550/sample.yaml']) {
  test(`${sample} is a valid device config`, () => {
    const config = loadYamlConfig(fileURLToPath(new URL(`../../drivers/${sample}`, import.meta.url)), deviceConfigSchema);
    assert.ok(config.drivers.length >= 1);
    assert.ok(config.drivers.every((d) => d.kind === sample.split('/')[0]));
  });
}

test('a driver config with both tcp and rtu, or a bad map, is refused with one line', () => {
  const bad = deviceConfigSchema.safeParse({ device: 'd', drivers: [{ kind: 'ion7550', id: 'm', tcp: { host: 'h' }, rtu: { port: '/dev/x' } }] });
  assert.equal(bad.success, false);
  assert.match(bad.error!.issues[0]!.message, /set exactly one of tcp or rtu/);
  const overlap = deviceConfigSchema.safeParse({
    device: 'd',
    drivers: [{ kind: 'ion7550', id: 'm', tcp: { host: 'h' }, registers: [{ metric: 'a', register: 40001, type: 'int32', unit: 'x' }, { metric: 'b', register: 40002, type: 'uint16', unit: 'x' }] }],
  });
  assert.equal(overlap.success, false);
  assert.match(overlap.error!.issues[0]!.message, /overlaps/);
  const range = deviceConfigSchema.safeParse({ device: 'd', drivers: [{ kind: 'mhz19', id: 'c', port: '/dev/x', rangePpm: 3000 }] });
  assert.equal(range.success, false);
});
