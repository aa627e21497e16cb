import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimulatedSite } from './simulator.ts';
import { GatewayFixture, testGatewayConfig } from './testdata/gateway-fixture.ts';
import { waitFor } from './testdata/wait.ts';

describe('simulated site', () => {
  it('joins its OTAA nodes and sends readings from every node through a real forwarder', async () => {
    const g = new GatewayFixture(testGatewayConfig());
    await g.start();
    const errors: Error[] = [];
    const site = new SimulatedSite({ server: g.gateway.address(), devices: g.config.devices, intervalMs: 150, seed: 7, onError: (e) => errors.push(e) });
    try {
      await site.start();
      // The gateway may decode an uplink before the forwarder has read its PUSH_ACK: wait for both.
      await waitFor('readings from both nodes, acknowledged', () =>
        g.readings.some((r) => r.sensor === 'node-1-1') && g.readings.some((r) => r.sensor === 'node-2-2') && site.uplinks >= 2, 8000);
      const t = g.readings.find((r) => r.metric === 'temperature_c')!;
      assert.ok(t.value! > 10 && t.value! < 35, `temperature ${t.value}`);
      const h = g.readings.find((r) => r.metric === 'humidity_pct')!;
      assert.ok(h.value! >= 40 && h.value! <= 70, `humidity ${h.value}`);
      assert.deepEqual(errors, []);
    } finally {
      await site.stop();
      await g.stop();
    }
  });
});
