// The probe and calibration verbs as a technician runs them: the real CLI in a child process, a
// simulated device on the other end of a pty pair or a TCP socket.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ion7550Simulator } from '../../drivers/ion7550/simulator.ts';
import { Mhz19Simulator } from '../../drivers/mhz19/simulator.ts';
import { PtyPair } from '../../drivers/serial/pty-pair.ts';

const BIN = fileURLToPath(new URL('../../bin/fieldproof.js', import.meta.url));

function cli(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FIELDPROOF_LOG_LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(stdin);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

let pair: PtyPair;
let co2: Mhz19Simulator;
let meter: Ion7550Simulator;
before(async () => {
  pair = await PtyPair.open();
  co2 = new Mhz19Simulator({ path: pair.peerPath, co2Ppm: 812, temperatureC: 21, rangePpm: 5000, abc: true });
  await co2.start();
  meter = new Ion7550Simulator({ unitId: 100, tcp: { port: 0 }, powerKw: 75 });
  await meter.start();
});
after(async () => {
  await co2.stop();
  await meter.stop();
  await pair.dispose();
});

test('probe mhz19 prints what the sensor said', async () => {
  const r = await cli(['probe', 'mhz19', '--port', pair.devicePath, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual({ ...out, ms: 0 }, { device: 'mhz19', port: pair.devicePath, co2Ppm: 812, temperatureC: 21, status: 0, rangePpm: 5000, abc: true, ms: 0 });
  const text = await cli(['probe', 'mhz19', '--port', pair.devicePath]);
  assert.equal(text.stdout, `MH-Z19 on ${pair.devicePath}: 812 ppm CO2, 21 C (range 5000 ppm, ABC on)\n`);
});

test('probe mhz19: a wrong port, no answer and a garbled answer each have their own message', async () => {
  const wrong = await cli(['probe', 'mhz19', '--port', '/dev/does-not-exist-ttyX']);
  assert.equal(wrong.code, 3);
  assert.match(wrong.stderr, /^fieldproof probe: no serial port at \/dev\/does-not-exist-ttyX \(unplugged, or a wrong path\?\)/);
  assert.equal(wrong.stderr.trim().split('\n').length, 1);

  co2.setFault('silence', 1);
  const silent = await cli(['probe', 'mhz19', '--port', pair.devicePath, '--timeout-ms', '300']);
  assert.equal(silent.code, 4);
  assert.match(silent.stderr, /^fieldproof probe: no answer from MH-Z19 on .* within 300 ms \(check the wiring/);

  co2.setFault('garbage', 1);
  const garbled = await cli(['probe', 'mhz19', '--port', pair.devicePath]);
  assert.equal(garbled.code, 5);
  assert.match(garbled.stderr, /^fieldproof probe: garbled answer from MH-Z19/);
  assert.equal(garbled.stderr.trim().split('\n').length, 1);
});

test('probe ion7550 over TCP reads the factory map once', async () => {
  const r = await cli(['probe', 'ion7550', '--tcp', `127.0.0.1:${meter.tcpPort}`, '--unit', '100', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.requests, 1);
  assert.deepEqual(out.readings.power_kw, { value: 75, unit: 'kW' });
  assert.deepEqual(out.readings.frequency_hz, { value: 50, unit: 'Hz' });
  assert.equal(typeof out.readings.energy_delivered_kwh.value, 'number');
});

test('probe ion7550: refused connection, no answer, exception and bad usage', async () => {
  const closed = new Ion7550Simulator({ tcp: { port: 0 } });
  await closed.start();
  const freePort = closed.tcpPort;
  await closed.stop();
  const refused = await cli(['probe', 'ion7550', '--tcp', `127.0.0.1:${freePort}`, '--unit', '1']);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /connection to 127\.0\.0\.1:\d+ refused/);

  meter.setFault({ kind: 'silence' }, 1);
  const silent = await cli(['probe', 'ion7550', '--tcp', `127.0.0.1:${meter.tcpPort}`, '--unit', '100', '--timeout-ms', '300']);
  assert.equal(silent.code, 4);
  assert.match(silent.stderr, /no answer from unit 100 at 127\.0\.0\.1:\d+ within 300 ms/);

  meter.setFault({ kind: 'exception', code: 2 }, 1);
  const exc = await cli(['probe', 'ion7550', '--tcp', `127.0.0.1:${meter.tcpPort}`, '--unit', '100']);
  assert.equal(exc.code, 6);
  assert.match(exc.stderr, /Modbus exception 2 \(illegal data address/);

  const usage = await cli(['probe', 'ion7550', '--unit', '1']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /give exactly one of --tcp HOST:PORT or --port PATH/);
  const badTcp = await cli(['probe', 'ion7550', '--tcp', 'nonsense', '--unit', '1']);
  assert.equal(badTcp.code, 2);
});

test('probe ion7550 over RTU on a serial line', async () => {
  const rtuPair = await PtyPair.open();
  const sim = new Ion7550Simulator({ unitId: 3, rtu: { path: rtuPair.peerPath, baudRate: 9600 }, powerKw: 5 });
  try {
    await sim.start();
    const r = await cli(['probe', 'ion7550', '--port', rtuPair.devicePath, '--baud', '9600', '--unit', '3', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).readings.power_kw, { value: 5, unit: 'kW' });
  } finally {
    await sim.stop();
    await rtuPair.dispose();
  }
});

test('mhz19 calibration commands ask first, and --yes or a typed yes goes ahead', async () => {
  const before = co2.received.length;
  const no = await cli(['mhz19', 'abc', 'off', '--port', pair.devicePath], 'no\n');
  assert.equal(no.code, 1);
  assert.match(no.stderr, /Automatic baseline correction OFF .* Type yes to continue: /);
  assert.match(no.stderr, /cancelled; nothing was sent to the sensor/);
  assert.equal(co2.received.length, before, 'nothing reached the sensor');
  assert.equal(co2.abc, true);

  const eof = await cli(['mhz19', 'calibrate-zero', '--port', pair.devicePath]);
  assert.equal(eof.code, 1, 'no answer on stdin is a no');

  const yes = await cli(['mhz19', 'abc', 'off', '--port', pair.devicePath, '--json'], 'yes\n');
  assert.equal(yes.code, 0, yes.stderr);
  assert.deepEqual(JSON.parse(yes.stdout), { port: pair.devicePath, command: 'abc', sent: true, acknowledged: false, verified: true });
  assert.equal(co2.abc, false);

  const range = await cli(['mhz19', 'range', '--ppm', '2000', '--port', pair.devicePath, '--yes', '--json']);
  assert.equal(range.code, 0, range.stderr);
  assert.deepEqual(JSON.parse(range.stdout), { port: pair.devicePath, command: 'range', sent: true, acknowledged: true, verified: true });
  assert.equal(co2.rangePpm, 2000);

  const zero = await cli(['mhz19', 'calibrate-zero', '--port', pair.devicePath, '--yes', '--timeout-ms', '300']);
  assert.equal(zero.code, 0, zero.stderr);
  assert.equal(co2.currentPpm(), 400, 'the simulated air now reads 400 ppm');
  assert.ok(co2.received.includes(0x87));

  const bad = await cli(['mhz19', 'range', '--ppm', '3000', '--port', pair.devicePath, '--yes']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--ppm must be one of 2000, 5000, 10000/);
});
