// The evaluation end to end on two NAB files, through the CLI verb, with and without the model.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const dir = join(import.meta.dirname, 'testdata');
const bin = join(root, 'bin', 'fieldproof.js');

async function evalNab(...extra: string[]) {
  const { stdout, stderr } = await run(process.execPath, [bin, 'eval', 'nab', '--data', join(dir, 'data'), '--labels', join(dir, 'windows.json'), '--json', ...extra], { maxBuffer: 1 << 24 });
  return { out: JSON.parse(stdout) as { profile: string; threshold: number; score: number; raw: number; files: Record<string, number>; model: boolean }, stderr };
}

test('eval nab scores every file, reports progress on stderr, and the sweep beats the null detector', { timeout: 120_000 }, async () => {
  const { out, stderr } = await evalNab('--no-model');
  assert.equal(out.profile, 'standard');
  assert.deepEqual(Object.keys(out.files).sort(), ['artificialWithAnomaly/art_daily_jumpsup.csv', 'realAdExchange/exchange-2_cpc_results.csv', 'realKnownCause/rogue_agent_key_hold.csv']);
  assert.match(stderr, /\[3\/3\]/);
  assert.ok(out.score > 0, `normalised score ${out.score} must beat the null detector`);
  assert.ok(Math.abs(Object.values(out.files).reduce((a, b) => a + b, 0) - out.raw) < 1e-9);
  // a fixed threshold gives the same result as the sweep did at that threshold
  const fixed = await evalNab('--no-model', '--threshold', String(out.threshold));
  assert.equal(fixed.out.score, out.score);
});

test('eval nab --cv category scores each category with the threshold and settings chosen on the others', { timeout: 120_000 }, async () => {
  const { out, stderr } = await evalNab('--no-model', '--cv', 'category');
  type Part = { category: string; threshold: number; raw: number; score: number | null; candidate: string; settings: Record<string, number> };
  const cv = (out as unknown as { cv: Part[]; cv_score: number; cv_raw: number; categories: Record<string, { raw: number }>; cv_grid: string; cv_settings: Record<string, number[]>; cv_candidates: Record<string, number> });
  assert.deepEqual(cv.cv.map((p) => p.category), ['artificialWithAnomaly', 'realAdExchange', 'realKnownCause']);
  assert.ok(Number.isFinite(cv.cv_score));
  assert.ok(Math.abs(cv.cv.reduce((a, p) => a + p.raw, 0) - cv.cv_raw) < 1e-9);
  // in-sample, each point's threshold is swept on everything
  assert.ok(cv.cv_score <= Math.max(...Object.values(cv.cv_candidates)) + 1e-9);
  assert.deepEqual(Object.keys(cv.categories), cv.cv.map((p) => p.category));
  // the full grid by default: every data-picked setting, and what each fold chose
  assert.equal(cv.cv_grid, 'full');
  assert.deepEqual(Object.keys(cv.cv_settings).sort(), ['contextLength', 'contextTailShare', 'fireLevel', 'forecastFloor', 'forecastJitter', 'levelWindow', 'smooth', 'transitionLength', 'transitionLevels']);
  assert.equal(Object.keys(cv.cv_candidates).length, 3 * (1 + 2 * 8));
  for (const p of cv.cv) {
    assert.ok(p.candidate in cv.cv_candidates, p.candidate);
    for (const [k, values] of Object.entries(cv.cv_settings)) assert.ok(values.includes(p.settings[k]!), `${p.category}: ${k}=${p.settings[k]}`);
  }
  assert.match(stderr, /grid: levelWindow=288/);
  // each fold's threshold is its chosen setting's fire level; the free sweep is reported beside
  const tied = out as unknown as { cv_threshold: string; cv_free_threshold: { cv_score: number; cv: Part[] }; score_at_fire_level: number };
  assert.equal(tied.cv_threshold, 'fire_level');
  for (const p of cv.cv) assert.equal(p.threshold, p.settings.fireLevel, p.category);
  assert.ok(Number.isFinite(tied.cv_free_threshold.cv_score));
  assert.deepEqual(tied.cv_free_threshold.cv.map((p) => p.category), cv.cv.map((p) => p.category));
  assert.ok(Number.isFinite(tied.score_at_fire_level));
  // the narrow grid: the tail share alone
  const tail = (await evalNab('--no-model', '--cv', 'category', '--grid', 'tail')).out as unknown as typeof cv;
  assert.equal(tail.cv_grid, 'tail');
  assert.deepEqual(Object.keys(tail.cv_candidates), ['default', 'contextTailShare=0.005', 'contextTailShare=0.02']);
  assert.deepEqual(Object.keys(tail.cv_settings), ['contextTailShare']);
  assert.equal(tail.cv_candidates.default, cv.cv_candidates.default);
});

test('eval nab --split-steps scores short streams, each piece labelled by its own length; --categories runs a subset', { timeout: 120_000 }, async () => {
  const { out } = await evalNab('--no-model', '--split-steps', '800', '--anomalies', join(dir, 'labels.json'), '--cv', 'category');
  const r = out as unknown as { split_steps: number; windows: number; cv: { category: string; own_raw: number; raw: number }[]; cv_own_threshold_score: number; cv_score: number; cv_threshold_gap: number };
  assert.equal(r.split_steps, 800);
  // 4032 rows make 5 pieces, 1624 make 2, 1882 make 2
  const names = Object.keys(out.files);
  assert.equal(names.length, 9);
  assert.ok(names.includes('artificialWithAnomaly/art_daily_jumpsup.csv#5'));
  // each anomaly point lies in exactly one piece: four anomalies, four windows
  assert.equal(r.windows, 4);
  assert.deepEqual(r.cv.map((p) => p.category), ['artificialWithAnomaly', 'realAdExchange', 'realKnownCause']);
  for (const p of r.cv) assert.ok(p.own_raw >= p.raw - 1e-9);
  assert.ok(Math.abs(r.cv_own_threshold_score - r.cv_score - r.cv_threshold_gap) < 1e-9);
  const one = await evalNab('--no-model', '--categories', 'realKnownCause');
  assert.deepEqual(Object.keys(one.out.files), ['realKnownCause/rogue_agent_key_hold.csv']);
  await assert.rejects(evalNab('--no-model', '--split-steps', '800'), /--anomalies/);
});

test('eval nab --results --max-steps scores a published detector on the first rows of each file; --split-steps is refused for it', { timeout: 60_000 }, async () => {
  const base = ['eval', 'nab', '--results', join(dir, 'results', 'numenta'), '--detector', 'numenta', '--labels', join(dir, 'windows.json'), '--anomalies', join(dir, 'labels.json'), '--json'];
  const { stdout } = await run(process.execPath, [bin, ...base, '--max-steps', '1000', '--threshold', '0.5']);
  const out = JSON.parse(stdout) as { max_steps: number; windows: number; counts: Record<string, { total: number }> };
  assert.equal(out.max_steps, 1000);
  for (const c of Object.values(out.counts)) assert.equal(c.total, 1000);
  // of the four anomalies two lie in the first 1000 rows: exchange-2_cpc's and rogue_agent_key_hold's first
  assert.equal(out.windows, 2);
  await assert.rejects(run(process.execPath, [bin, ...base, '--split-steps', '800']), (err: { stderr: string; code: number }) => {
    assert.match(err.stderr, /cannot be split/);
    assert.equal(err.code, 2);
    return true;
  });
});

test('eval nab --drop-share scores streams that lose readings, with --split-steps and --cv; at share 0 nothing changes', { timeout: 180_000 }, async () => {
  const split = ['--no-model', '--split-steps', '800', '--anomalies', join(dir, 'labels.json'), '--cv', 'category'];
  type Out = { score: number; cv_score: number; readings: number; windows: number; files: Record<string, number>; counts: Record<string, { total: number }>; drop?: { share: number; seed: number; burst?: number; rows_lost: number; windows_lost: number } };
  const whole = (await evalNab(...split)).out as unknown as Out;
  const none = (await evalNab(...split, '--drop-share', '0')).out as unknown as Out;
  assert.deepEqual({ ...none, seconds: 0, drop: undefined }, { ...whole, seconds: 0, drop: undefined });
  const lossy = (await evalNab(...split, '--drop-share', '0.3', '--drop-burst', '3', '--seed', '9')).out as unknown as Out;
  assert.deepEqual({ ...lossy.drop, rows_lost: undefined }, { share: 0.3, seed: 9, burst: 3, windows_lost: 0, rows_lost: undefined });
  assert.equal(lossy.drop!.rows_lost, whole.readings - lossy.readings);
  assert.deepEqual(Object.keys(lossy.files), Object.keys(whole.files));
  // about 30% of the rows go, each piece scored on its own rows left (NAB's Total_Count)
  const rows = (r: Out) => Object.values(r.counts).reduce((a, c) => a + c.total, 0);
  assert.equal(rows(lossy), lossy.readings);
  assert.ok(Math.abs(lossy.readings / whole.readings - 0.7) < 0.05, `${lossy.readings} of ${whole.readings} rows left`);
  // the anomalies' windows are spans of time: each keeps rows when a third of its rows are lost
  assert.equal(lossy.windows, whole.windows);
  assert.ok(Number.isFinite(lossy.cv_score));
  const again = (await evalNab(...split, '--drop-share', '0.3', '--drop-burst', '3', '--seed', '9')).out as unknown as Out;
  assert.deepEqual(again.files, lossy.files);
  // the first rows are cut before the losses: the same stretch of time, fewer rows in it
  const first = (await evalNab('--no-model', '--max-steps', '1000', '--anomalies', join(dir, 'labels.json'), '--drop-share', '0.2', '--threshold', '0.7')).out as unknown as Out;
  for (const c of Object.values(first.counts)) assert.ok(c.total < 1000 && c.total > 700, `${c.total} rows`);
  assert.equal(first.windows, 2);
  await assert.rejects(evalNab('--no-model', '--seed', '3'), /--seed go with --drop-share/);
  await assert.rejects(evalNab('--no-model', '--drop-share', '0.8', '--drop-burst', '2'), /at least 4/);
  // a published detector's scores were made on every row: they cannot stand for a stream that lost some
  await assert.rejects(run(process.execPath, [bin, 'eval', 'nab', '--results', join(dir, 'results', 'numenta'), '--detector', 'numenta', '--labels', join(dir, 'windows.json'), '--drop-share', '0.2']), /published results were made on every row/);
});

test("eval nab with the TensorFlow.js forecaster: --cv category also chooses the forecaster's settings per fold, each from a run of its own", { timeout: 300_000 }, async () => {
  const { out, stderr } = await evalNab('--cv', 'category');
  assert.equal(out.model, true);
  assert.ok(Number.isFinite(out.score));
  const cv = out as unknown as { cv_settings: Record<string, number[]>; cv_candidates: Record<string, number>; cv: { settings: Record<string, number> }[] };
  assert.deepEqual(Object.keys(cv.cv_settings).sort(), ['contextLength', 'contextTailShare', 'epochs', 'fireLevel', 'forecastFloor', 'forecastJitter', 'hidden', 'levelWindow', 'minCorrelation', 'smooth', 'taps', 'transitionLength', 'transitionLevels']);
  assert.equal(Object.keys(cv.cv_candidates).length, 3 * (1 + 2 * 12));
  for (const p of cv.cv) assert.ok(cv.cv_settings.taps!.includes(p.settings.taps!));
  // each forecaster setting ran over every file (what its runs give: grid.test.ts)
  for (const setting of ['taps=3', 'taps=7', 'hidden=8', 'hidden=32', 'epochs=6', 'epochs=24', 'minCorrelation=0.4', 'minCorrelation=0.6']) assert.match(stderr, new RegExp(`\\[3/3\\] forecaster ${setting}: `));
});

test('eval nab refuses bad input with one line', async () => {
  await assert.rejects(run(process.execPath, [bin, 'eval', 'nab', '--data', join(dir, 'data'), '--labels', join(dir, 'nope.json')]), (err: { stderr: string; code: number }) => {
    assert.match(err.stderr, /^fieldproof eval: cannot read labels .*nope\.json: ENOENT\n$/);
    assert.equal(err.code, 1);
    return true;
  });
  await assert.rejects(run(process.execPath, [bin, 'eval', 'nab', '--labels', join(dir, 'windows.json'), '--data', dir, '--threshold', 'x']), (err: { stderr: string; code: number }) => {
    assert.match(err.stderr, /--threshold must be a number/);
    assert.equal(err.code, 2);
    return true;
  });
  await assert.rejects(run(process.execPath, [bin, 'eval', 'nab', '--labels', join(dir, 'windows.json'), '--data', dir, '--cv', 'category', '--threshold', '0.5']), (err: { stderr: string; code: number }) => {
    assert.match(err.stderr, /--cv chooses the threshold/);
    return true;
  });
  await assert.rejects(run(process.execPath, [bin, 'eval', 'nab', '--labels', join(dir, 'windows.json'), '--data', dir, '--grid', 'tail']), (err: { stderr: string; code: number }) => {
    assert.match(err.stderr, /--grid is what --cv category chooses among/);
    return true;
  });
  await assert.rejects(run(process.execPath, [bin, 'eval', 'nab', '--labels', join(dir, 'windows.json'), '--data', dir, '--cv', 'category', '--grid', 'wide']), (err: { stderr: string; code: number }) => {
    assert.match(err.stderr, /--grid must be one of full, tail/);
    assert.equal(err.code, 2);
    return true;
  });
});

test('eval nab on data the labels do not name, or results the labels do not name, is a one-line error, not a stack trace', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'fieldproof nab '));
  try {
    const labels = join(tmp, 'labels.json');
    writeFileSync(labels, '{}');
    for (const args of [
      ['--data', join(dir, 'data')],
      ['--results', join(dir, 'results', 'numenta'), '--detector', 'numenta'],
    ]) {
      const r = await run(process.execPath, [bin, 'eval', 'nab', ...args, '--labels', labels, '--json']).then(
        () => assert.fail('accepted labels that name none of the files'),
        (err: { code: number; stderr: string }) => err,
      );
      assert.equal(r.code, 1, r.stderr);
      const last = r.stderr.trim().split('\n').at(-1)!;
      assert.match(last, /^fieldproof eval: .*not in the labels file|^fieldproof eval: no file under .* is named in the labels file/);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
