// Durability under SIGKILL: `fieldproof run` is killed at random moments, restarted each time, and
// the journal must never lose what it acknowledged, never hold a hole or a duplicate, and every
// sealed batch must verify. docs/durability.md cites this file.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JournalRecord } from '../protocol/records.ts';
import { Journal } from '../runtime/journal/journal.ts';
import { verifyJournal } from '../runtime/journal/verify.ts';
import { CliProcess, runCli } from './support/cli.ts';
import { tempDir } from './support/tmp.ts';

// The minimal device.yaml (docs/spec/configs.md), with the data dir moved into a temp folder and
// without the uplink (no sink runs here; the uplink has tests of its own).
function minimalConfig(dir: string, extra = ''): string {
  const text = readFileSync(new URL('../app/config/testdata/device.yaml', import.meta.url), 'utf8')
    .replace('/var/lib/fieldproof', join(dir, 'data'))
    .replace(/^uplink:.*\n.*\n/m, '');
  const file = join(dir, 'device.yaml');
  writeFileSync(file, text + extra);
  return file;
}

async function inspect(dataDir: string) {
  const journal = await Journal.inspect(dataDir);
  try {
    const stats = journal.stats();
    const verification = await verifyJournal(journal);
    const records: JournalRecord[] = [];
    for await (const { line } of journal.records()) records.push(JSON.parse(line));
    return { stats, verification, records };
  } finally {
    await journal.close();
  }
}

const durableSeq = (p: CliProcess) => Math.max(0, ...p.lines.filter((l) => l.msg === 'progress').map((l) => l.lastSeq as number));

test('SIGKILL at random moments, 24 times: nothing acknowledged lost, no hole, no duplicate, batches verify', async () => {
  const dir = tempDir('crash');
  const config = minimalConfig(dir);
  const dataDir = join(dir, 'data');
  let previous = 0;
  const kills = 24;
  for (let i = 0; i < kills; i++) {
    const p = new CliProcess(['run', '--config', config, '--progress-ms', '100']);
    // A third of the kills land during start-up (journal opening, key loading), the rest while
    // readings flow and batches seal.
    if (i % 3 === 0) await new Promise((r) => setTimeout(r, 150 + Math.random() * 400));
    else {
      await p.waitFor((l) => l.msg === 'fieldproof running');
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 900));
    }
    const acknowledged = durableSeq(p);
    const { signal } = await p.kill('SIGKILL');
    assert.equal(signal, 'SIGKILL');
    const { stats } = await inspect(dataDir).catch((err: Error) => {
      // Killed before the journal was first created: allowed, as long as nothing was ever there.
      if (previous === 0 && /there is no journal/.test(err.message)) return { stats: { lastSeq: 0 } };
      return assert.fail(`after kill ${i + 1}: ${err.message}`);
    });
    assert.ok(stats.lastSeq >= acknowledged, `kill ${i + 1}: lastSeq ${stats.lastSeq} lost readings logged durable up to ${acknowledged}`);
    assert.ok(stats.lastSeq >= previous, `kill ${i + 1}: record count went down from ${previous} to ${stats.lastSeq}`);
    previous = stats.lastSeq;
  }

  const { stats, verification, records } = await inspect(dataDir);
  assert.equal(verification.ok, true, verification.problems.join('; '));
  assert.ok(stats.lastSeq > 200, `readings flowed (${stats.lastSeq})`);
  assert.ok(stats.lastBatch > 5, `batches were sealed (${stats.lastBatch})`);
  assert.deepEqual(records.map((r) => r.seq), Array.from({ length: stats.lastSeq }, (_, i) => i + 1), 'seqs 1..N, no hole, no duplicate');
  const readingKeys = records.filter((r) => r.kind === 'reading').map((r) => `${r.kind === 'reading' ? r.sensor : ''}@${r.kind === 'reading' ? r.ts : ''}`);
  assert.equal(new Set(readingKeys).size, readingKeys.length, 'no reading stored twice');

  // And the CLI agrees.
  const cli = await runCli(['journal', 'verify', '--data-dir', dataDir, '--json']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(JSON.parse(cli.stdout).ok, true);
});

test('SIGTERM drains and seals: every record ends up in a sealed batch, exit code 0', async () => {
  const dir = tempDir('term');
  const config = minimalConfig(dir);
  const p = new CliProcess(['run', '--config', config, '--progress-ms', '200']);
  await p.waitFor((l) => l.msg === 'progress' && (l.lastSeq as number) > 300);
  const { code } = await p.kill('SIGTERM');
  assert.equal(code, 0);
  const { stats, verification } = await inspect(join(dir, 'data'));
  assert.equal(verification.ok, true, verification.problems.join('; '));
  assert.equal(stats.sealedSeq, stats.lastSeq, 'the tail was sealed');
  assert.ok(p.lines.some((l) => l.msg === 'fieldproof stopped'));

  const json = await runCli(['journal', 'stats', '--data-dir', join(dir, 'data'), '--json']);
  const s = JSON.parse(json.stdout);
  for (const k of ['lastSeq', 'lastBatch', 'unsentRecords', 'bytes']) assert.equal(typeof s[k], 'number', k);
  assert.equal(s.lastSeq, stats.lastSeq);

  const exported = await runCli(['journal', 'export', '--data-dir', join(dir, 'data'), '--batches']);
  const batches = exported.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(batches.length, stats.lastBatch);
  assert.equal(batches.reduce((t: number, b: { records: unknown[] }) => t + b.records.length, 0), stats.lastSeq);
});

test('a full disk under drop-oldest drops the oldest unsent batches and writes a signed gap record', async () => {
  const dir = tempDir('full');
  const config = minimalConfig(dir, 'journal:\n  maxBytes: 120000\n  policy: drop-oldest\n');
  const p = new CliProcess(['run', '--config', config, '--progress-ms', '200']);
  // 200 readings/s of ~180 bytes fill 120 kB in well under 2 s.
  await p.waitFor((l) => l.msg === 'journal full: dropped the oldest unsent batch', 15_000);
  await p.waitFor((l) => l.msg === 'progress' && (l.lastSeq as number) > 1000, 15_000);
  assert.equal((await p.kill('SIGTERM')).code, 0);
  const { stats, verification, records } = await inspect(join(dir, 'data'));
  assert.equal(verification.ok, true, verification.problems.join('; '));
  assert.ok(stats.prunedBatches > 0);
  assert.ok(stats.bytes <= 120_000 * 1.1, `bytes ${stats.bytes} stay near the bound`);
  const gaps = records.filter((r) => r.kind === 'gap');
  assert.ok(gaps.length > 0, 'a gap record was written');
  assert.ok(gaps.every((g) => g.kind === 'gap' && g.reason === 'disk_full' && g.dropped > 0));
});

test('a second process on a data dir in use, and a foreign or corrupt data dir, get one clear line', async () => {
  const dir = tempDir('lock');
  const config = minimalConfig(dir);
  const p = new CliProcess(['run', '--config', config]);
  await p.waitFor((l) => l.msg === 'fieldproof running');
  const stats = await runCli(['journal', 'stats', '--data-dir', join(dir, 'data')]);
  assert.notEqual(stats.code, 0);
  assert.match(stats.stderr, /^fieldproof journal: data dir .* is in use by another fieldproof process/);
  assert.equal(stats.stderr.trim().split('\n').length, 1);
  const second = await runCli(['run', '--config', config]);
  assert.notEqual(second.code, 0);
  assert.match(second.stderr, /in use/);
  assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace');
  await p.kill('SIGTERM');

  // The same data dir under another device name is foreign.
  writeFileSync(config, readFileSync(config, 'utf8').replace('device: site-a-gw1', 'device: site-b-gw2'));
  const foreign = await runCli(['run', '--config', config]);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, /belongs to device site-a-gw1, but the config says site-b-gw2/);

  // A journal folder that holds something else is never started afresh over.
  const other = tempDir('foreign');
  const otherConfig = minimalConfig(other);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(other, 'data', 'journal'), { recursive: true });
  writeFileSync(join(other, 'data', 'journal', 'notes.txt'), 'not a journal');
  const refused = await runCli(['run', '--config', otherConfig]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /not a fieldproof journal/);
  assert.doesNotMatch(refused.stderr, /\n\s+at /);
});

test('CLI contract: --help, bad flags and bad configs give one line and a non-zero exit', async () => {
  const dir = tempDir('cli');
  for (const verb of ['run', 'keys', 'journal', 'bench']) {
    const r = await runCli([verb, '--help']);
    assert.equal(r.code, 0, `${verb} --help`);
    assert.match(r.stdout, /usage: fieldproof/);
  }
  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown verb "frobnicate"/);
  const badFlag = await runCli(['run', '--confg', 'x.yaml']);
  assert.equal(badFlag.code, 2);
  assert.equal(badFlag.stderr.trim().split('\n').length, 1);
  const missing = await runCli(['run', '--config', join(dir, 'missing.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /does not exist/);
  writeFileSync(join(dir, 'bad.yaml'), 'device: x\ndataDir: /tmp/x\ndrivers:\n  - kind: simulated\n    id: s\n    sensors: lots\n');
  const bad = await runCli(['run', '--config', join(dir, 'bad.yaml')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /drivers\.0\.sensors/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);

  const keyJson = await runCli(['keys', 'show', '--data-dir', join(dir, 'k'), '--json']);
  assert.equal(keyJson.code, 0);
  const { key } = JSON.parse(keyJson.stdout);
  assert.match(key, /^[0-9a-f]{64}$/);
  const again = await runCli(['keys', 'init', '--data-dir', join(dir, 'k'), '--json']);
  assert.deepEqual(JSON.parse(again.stdout), { key, created: false });
  const { statSync } = await import('node:fs');
  assert.equal(statSync(join(dir, 'k', 'device.key')).mode & 0o777, 0o600);
});
