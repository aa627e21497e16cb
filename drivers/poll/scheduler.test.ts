import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReadError } from './errors.ts';
import { DEFAULT_TIMING, PollScheduler, type PollJob, type PollOutcome, type PollTiming } from './scheduler.ts';

function job<T>(name: string, timing: Partial<PollTiming>, attempt: () => Promise<T>, extra: Partial<PollJob<T>> = {}) {
  const outcomes: PollOutcome<T>[] = [];
  const j: PollJob<T> = {
    name,
    timing: { ...DEFAULT_TIMING, ...timing },
    attempt,
    onOutcome: (o) => outcomes.push(o),
    ...extra,
  };
  return { job: j, outcomes };
}

test('a device that never answers does not delay another one', async () => {
  const scheduler = new PollScheduler();
  const hung = job('hung', { intervalMs: 50, timeoutMs: 200, retries: 1, retryBackoffMs: 20 }, () => new Promise<number>(() => {}));
  let n = 0;
  const fast = job('fast', { intervalMs: 50, timeoutMs: 200 }, async () => ++n);
  scheduler.add(hung.job);
  scheduler.add(fast.job);
  scheduler.start();
  await sleep(1000);
  await scheduler.stop();
  // 1000 ms at 50 ms: about 20 polls; the hung job's 450 ms per poll must not slow it down
  assert.ok(fast.outcomes.length >= 15, `fast job polled only ${fast.outcomes.length} times`);
  assert.ok(fast.outcomes.every((o) => o.ok));
  assert.ok(hung.outcomes.length >= 1 && hung.outcomes.length <= 3, `hung job finished ${hung.outcomes.length} polls`);
  const first = hung.outcomes[0]!;
  assert.equal(first.ok, false);
  assert.equal(!first.ok && first.error.flag, 'timeout');
  assert.equal(first.attempts, 2);
});

test('retries with backoff turn transient failures into one successful poll', async () => {
  const scheduler = new PollScheduler();
  let calls = 0;
  const times: number[] = [];
  const flaky = job('flaky', { intervalMs: 10_000, retries: 3, retryBackoffMs: 40 }, async () => {
    times.push(Date.now());
    if (++calls < 3) throw new ReadError('bad checksum', 'bad_checksum');
    return 42;
  });
  scheduler.add(flaky.job);
  scheduler.start();
  await sleep(300);
  await scheduler.stop();
  assert.equal(flaky.outcomes.length, 1);
  const o = flaky.outcomes[0]!;
  assert.ok(o.ok && o.value === 42);
  assert.equal(o.attempts, 3);
  assert.ok(times[1]! - times[0]! >= 35, 'first retry waits the backoff');
  assert.ok(times[2]! - times[1]! >= 75, 'second retry waits twice as long');
});

test('a non-retryable error is not retried', async () => {
  const scheduler = new PollScheduler();
  let calls = 0;
  const j = job('exc', { intervalMs: 10_000, retries: 3 }, async () => {
    calls++;
    throw new ReadError('Modbus exception 2', 'modbus_exception', false);
  });
  scheduler.add(j.job);
  scheduler.start();
  await sleep(100);
  await scheduler.stop();
  assert.equal(calls, 1);
  assert.equal(j.outcomes[0]!.ok, false);
});

test('a device that stops answering goes down, is recovered, and comes back by itself', async () => {
  const scheduler = new PollScheduler();
  let answering = true;
  let recoveries = 0;
  const states: boolean[] = [];
  const j = job(
    'meter',
    { intervalMs: 30, timeoutMs: 30, retries: 0, downAfter: 2, downIntervalMaxMs: 120 },
    () => (answering ? Promise.resolve(1) : new Promise<number>(() => {})),
    { recover: async () => void recoveries++ },
  );
  j.job.onOutcome = (o, h) => {
    j.outcomes.push(o);
    states.push(h.down);
  };
  const health = scheduler.add(j.job);
  scheduler.start();
  await sleep(100);
  answering = false;
  await sleep(600);
  assert.equal(health.down, true);
  assert.ok(recoveries >= 1, 'recover() runs after a timeout');
  const failedPolls = j.outcomes.filter((o) => !o.ok).length;
  // while down the interval grows to 120 ms: far fewer than 600/60 polls
  assert.ok(failedPolls >= 2 && failedPolls <= 10, `failed polls while down: ${failedPolls}`);
  answering = true;
  await sleep(400);
  await scheduler.stop();
  assert.equal(health.down, false);
  assert.equal(j.outcomes.at(-1)!.ok, true);
  assert.ok(states.includes(true) && states.at(-1) === false);
});

test('stop() waits for the request in flight and no poll runs after it', async () => {
  const scheduler = new PollScheduler();
  let calls = 0;
  const j = job('slow', { intervalMs: 20, timeoutMs: 500 }, async () => {
    calls++;
    await sleep(80);
    return 1;
  });
  scheduler.add(j.job);
  scheduler.start();
  await sleep(30);
  await scheduler.stop();
  const after = calls;
  await sleep(150);
  assert.equal(calls, after);
});
