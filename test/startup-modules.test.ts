// What a start loads: a device or a sink imports the heavy libraries (TensorFlow.js, the Aptos SDK,
// pg, MQTT, serial and Modbus, the LoRaWAN code) only when its config uses them. The packages
// loaded so far are read from the CommonJS module cache, where every CommonJS file lands however
// it was imported; each library below has at least one.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { sinkConfig } from '../cloud-sink/config.ts';
import { Sink } from '../cloud-sink/sink.ts';
import { deviceConfigSchema, resolveDeviceConfig } from '../app/config/device-config.ts';
import { Daemon } from '../app/daemon.ts';
import { silentLogger } from '../kernel/log.ts';

const require = createRequire(import.meta.url);

function loadedPackages(): Set<string> {
  const names = Object.keys(require.cache).map((file) => /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1]);
  return new Set(names.filter((n): n is string => n !== undefined));
}

function assertNotLoaded(names: string[]): void {
  const loaded = loadedPackages();
  assert.deepEqual(names.filter((n) => loaded.has(n)), []);
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

it('a device with a simulated driver, validation and its page loads none of the libraries it does not use', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fieldproof-startup-'));
  const raw = deviceConfigSchema.parse({ device: 'gw', dataDir: dir, drivers: [{ kind: 'simulated', id: 'sim', sensors: 2, intervalMs: 20 }], http: {} });
  const daemon = new Daemon(resolveDeviceConfig(raw, dir), silentLogger(), { progressMs: 60_000 });
  try {
    await daemon.start();
    while (daemon.context.journal.stats().lastSeq < 10) await new Promise((r) => setTimeout(r, 20));
    assertNotLoaded([
      '@tensorflow/tfjs-core', // the anomaly model trains in a worker, once a stream has the history for it
      'mqtt', // alerts
      'undici', // the uplink
      'lora-packet', // the LoRaWAN gateway
      '@serialport/bindings-cpp', // MH-Z19
      'modbus-serial', // ION7550
      'ws', // the page's live feed, until a page connects
      '@opentelemetry/api', // prom-client's process metrics, until /metrics is scraped
    ]);
    // The check can see a library once something asks for it.
    const { port } = daemon.board.get('http') as { port: number };
    assert.equal(await get(port, '/metrics'), 200);
    assert.ok(loadedPackages().has('@opentelemetry/api'));
  } finally {
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

it('a sink with a LevelDB store and anchoring off loads neither the Aptos SDK nor pg', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fieldproof-startup-sink-'));
  const sink = new Sink(sinkConfig({ listen: '127.0.0.1:0', dataDir: dir, devices: [] }));
  try {
    await sink.start();
    // poseidon-lite and got are CommonJS dependencies of @aptos-labs/ts-sdk, whose own files are ES modules
    assertNotLoaded(['poseidon-lite', 'got', 'pg']);
  } finally {
    await sink.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
