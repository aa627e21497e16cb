// `fieldproof codec test` as users and scripts run it: the real CLI in a child process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { runCli } from '../../test/support/cli.ts';

const BIN = fileURLToPath(new URL('../../bin/fieldproof.js', import.meta.url));
const example = (name: string) => fileURLToPath(new URL(`../../gateway/codecs/examples/${name}`, import.meta.url));
const testdata = (name: string) => fileURLToPath(new URL(`../../gateway/testdata/codecs/${name}`, import.meta.url));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'codec', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('fieldproof codec test', () => {
  it('prints data, normalized, warnings, errors and the readings as journaled; exit 0', async () => {
    const r = await cli('test', example('sensecap-style.js'), '--fport', '3', '--hex', '0110c05d0000', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(out), ['data', 'normalized', 'warnings', 'errors', 'readings']);
    assert.deepEqual(out.normalized, { data: { air: { temperature: 24 } } });
    const readings = out.readings as { metric: string; value: number; unit: string }[];
    assert.ok(readings.some((x) => x.metric === 'messages_4097' && x.value === 24));
    assert.ok(readings.some((x) => x.metric === 'air.temperature' && x.value === 24 && x.unit === 'degC'));
  });

  it('passes --variables to the codec, and encodes with --downlink', async () => {
    const leak = await cli('test', example('water-leak-v3.js'), '--fport', '10', '--hex', '02000000', '--variables', '{"alarmLevel":"3"}', '--json');
    assert.equal(JSON.parse(leak.stdout).data.leak, 'NoLeak');
    const down = await cli('test', example('milesight-style-v2.js'), '--fport', '85', '--downlink', '{"interval_s":600}', '--json');
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(JSON.parse(down.stdout), { bytes: 'ff035802', fPort: 85, decoded: null, warnings: [], errors: [] });
  });

  it('exit 1 when the codec times out, throws or does not load; 2 on bad arguments', async () => {
    const loop = await cli('test', testdata('loops-forever.js'), '--fport', '1', '--hex', 'ff', '--timeout-ms', '50', '--json');
    assert.equal(loop.code, 1);
    assert.match(JSON.parse(loop.stdout).errors[0], /^timeout: ran past 50 ms/);
    const missing = await cli('test', 'no-such-codec.js', '--fport', '1', '--hex', '00');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^fieldproof codec: codec no-such-codec\.js: cannot read: ENOENT\n$/);
    for (const args of [['--fport', '1', '--hex', 'abc'], ['--fport', '0', '--hex', '00'], ['--hex', '00'], ['--fport', '1', '--hex', '00', '--variables', '[1]']]) {
      const bad = await cli('test', example('th-sensor.js'), ...args);
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.equal(bad.stderr.trim().split('\n').length, 1);
    }
  });

  it('reads the codec from stdin for FILE -, Windows line endings and all, as from the file', async () => {
    const args = ['test', '-', '--fport', '3', '--hex', '0110c05d0000', '--json'];
    const fromFile = await cli('test', example('sensecap-style.js'), ...args.slice(2));
    const source = readFileSync(example('sensecap-style.js'), 'utf8').replace(/\r?\n/g, '\r\n');
    const r = await runCli(['codec', ...args], { input: source });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), JSON.parse(fromFile.stdout));
    const empty = await runCli(['codec', ...args], { input: '' });
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /^fieldproof codec: codec stdin: .*\n$/);
  });
});

