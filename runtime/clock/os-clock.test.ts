// The clock's sync state read from real subprocesses: fake `chronyc` and `timedatectl` scripts on
// PATH say what a real daemon would (or hang, or are absent), and the journal states it in headers.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { headerProblem, verifyHeaderSignature } from '../../protocol/batch.ts';
import { generateKey } from '../../protocol/signature.ts';
import { silentLogger } from '../../kernel/log.ts';
import { Registry } from '../../kernel/metrics.ts';
import { tempDir } from '../../test/support/sink.ts';
import { Journal } from '../journal/journal.ts';
import { ClockSync } from './clock-sync.ts';
import { parseChronyTracking, readOsClock } from './os-clock.ts';

const tmp = tempDir('fieldproof-clock-');
after(() => tmp.cleanup());
let dirs = 0;

/** A folder holding only these scripts, to be the whole PATH. */
function binWith(scripts: Record<string, string>): NodeJS.ProcessEnv {
  const dir = join(tmp.dir, `bin-${++dirs}`);
  mkdirSync(dir);
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return { PATH: dir };
}

const SYNCED = 'A29FC87B,ntp1.example.org,3,1763884800.123456789,-0.000250000,0.000012000,0.000034000,-12.345,-0.001,0.045,0.012345678,0.000456789,64.2,Normal';
const UNSYNCED = '00000000,,0,0.000000000,0.000000000,0.000000000,0.000000000,0.000,0.000,0.000,1.000000000,1.000000000,0.0,Not synchronised';

describe('reading the clock sync state from the OS', () => {
  it('takes chrony\'s tracking line: synchronised, and the offset with the device clock ahead as positive', async () => {
    const env = binWith({ chronyc: `[ "$1 $2" = "-c tracking" ] || exit 3\necho '${SYNCED}'` });
    assert.deepEqual(await readOsClock({ timeoutMs: 2000, env }), { synced: true, source: 'chrony', offsetMs: 0.25 });
  });

  it('says not synchronised when chrony says so', async () => {
    const env = binWith({ chronyc: `echo '${UNSYNCED}'` });
    assert.deepEqual(await readOsClock({ timeoutMs: 2000, env }), { synced: false, source: 'chrony', offsetMs: 0 });
  });

  it('kills a chronyc that hangs at the timeout and asks timesyncd instead', async () => {
    const env = binWith({ chronyc: 'sleep 30', timedatectl: `[ "$*" = "show -p NTPSynchronized --value" ] || exit 3\necho yes` });
    const started = Date.now();
    assert.deepEqual(await readOsClock({ timeoutMs: 300, env }), { synced: true, source: 'timesyncd' });
    assert.ok(Date.now() - started < 5000, 'bounded by the timeout');
  });

  it('says "unknown", not synchronised, when neither daemon answers (absent, failing, or nonsense)', async () => {
    assert.deepEqual(await readOsClock({ timeoutMs: 500, env: binWith({}) }), { synced: false, source: 'unknown' });
    const env = binWith({ chronyc: 'echo "506 Cannot talk to daemon" >&2; exit 1', timedatectl: 'echo maybe' });
    assert.deepEqual(await readOsClock({ timeoutMs: 500, env }), { synced: false, source: 'unknown' });
  });

  it('refuses lines chronyc does not write', () => {
    assert.equal(parseChronyTracking(''), null);
    assert.equal(parseChronyTracking('a,b,c'), null);
    assert.equal(parseChronyTracking(SYNCED.replace('-0.000250000', 'x')), null);
  });
});

describe('the clock state in batch headers', () => {
  it('is read off the hot path, refreshed on its interval, and stated in each header sealed, signed', async () => {
    let synced = false;
    let reads = 0;
    const metrics = new Registry();
    const clock = new ClockSync({ read: async () => (reads++, { synced, source: 'chrony', offsetMs: synced ? 1.5 : 812 }), refreshMs: 50, log: silentLogger(), metrics });
    await clock.start();
    const j = await Journal.open({ dir: join(tmp.dir, 'dev'), device: 'dev-1', key: generateKey(), commitMaxWaitMs: 1, clockState: () => clock.current() });
    await j.append({ sensor: 's', metric: 'm', unit: 'u', ts: 1, value: 1 });
    const h1 = (await j.sealNow())!;
    assert.deepEqual(h1.clock, { synced: false, source: 'chrony', offsetMs: 812 });
    synced = true;
    await new Promise((r) => setTimeout(r, 150));
    await j.append({ sensor: 's', metric: 'm', unit: 'u', ts: 2, value: 1 });
    const h2 = (await j.sealNow())!;
    assert.deepEqual(h2.clock, { synced: true, source: 'chrony', offsetMs: 1.5 });
    assert.ok(reads >= 2);
    const gauges = await metrics.metrics();
    assert.match(gauges, /^fieldproof_clock_synced\{source="chrony"\} 1$/m);
    assert.match(gauges, /^fieldproof_clock_offset_seconds 0\.0015$/m);
    for (const h of [h1, h2]) {
      assert.equal(headerProblem(h), null);
      assert.ok(verifyHeaderSignature(h));
    }
    assert.ok(!verifyHeaderSignature({ ...h2, clock: { synced: false, source: 'chrony', offsetMs: 1.5 } }), 'the clock state is under the signature');
    await j.close();
    await clock.stop();
  });

  it('headerProblem takes `clock` only in its exact shape', () => {
    const base = { v: 1, device: 'd', batch: 1, first: 1, last: 1, count: 1, root: '0'.repeat(64), prev: '0'.repeat(64), created: 1, key: '0'.repeat(64), sig: '0'.repeat(128) };
    assert.equal(headerProblem({ ...base, clock: { synced: true, source: 'timesyncd' } }), null);
    assert.equal(headerProblem({ ...base, clock: { synced: false, source: 'unknown', offsetMs: -3.25 } }), null);
    assert.match(headerProblem({ ...base, clock: { synced: 'yes', source: 'chrony' } })!, /header\.clock must be/);
    assert.match(headerProblem({ ...base, clock: { synced: true, source: 'ntpd' } })!, /header\.clock must be/);
    assert.match(headerProblem({ ...base, clock: { synced: true, source: 'chrony', drift: 1 } })!, /unknown field drift/);
    assert.match(headerProblem({ ...base, clock: { synced: true, source: 'chrony', offsetMs: '1' } })!, /offsetMs/);
    assert.match(headerProblem({ ...base, clock: null })!, /header\.clock must be/);
    assert.match(headerProblem({ ...base, epochx: 2 })!, /unknown field epochx/);
  });
});
