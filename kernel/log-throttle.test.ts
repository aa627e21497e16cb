import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { ThrottledWarn } from './log-throttle.ts';

function setup(burst = 1) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  let now = 1_000_000;
  const t = new ThrottledWarn(log, 10_000, () => now, burst);
  return { t, lines, advance: (ms: number) => (now += ms) };
}

describe('throttled log lines', () => {
  it('writes one line per reason per interval, then says how many it held back', () => {
    const { t, lines, advance } = setup();
    for (let i = 0; i < 500; i++) t.warn('unknown_gateway', { n: i }, 'unknown gateway');
    t.warn('bad_json', {}, 'bad JSON');
    assert.deepEqual(lines.map((l) => [l.reason, l.n]), [['unknown_gateway', 0], ['bad_json', undefined]]);
    advance(9_999);
    t.warn('unknown_gateway', { n: 'late' }, 'unknown gateway');
    assert.equal(lines.length, 2, 'still inside the interval');
    advance(1);
    t.warn('unknown_gateway', { n: 'next' }, 'unknown gateway');
    assert.equal(lines.length, 3);
    assert.equal(lines[2]!.suppressedSinceLast, 500);
    assert.equal(lines[2]!.level, 40);
  });

  it('lets a burst through per interval, at the level asked for', () => {
    const { t, lines, advance } = setup(3);
    for (let i = 0; i < 20; i++) t.info('new_gateway', { i }, 'new gateway');
    assert.deepEqual(lines.map((l) => l.i), [0, 1, 2]);
    assert.ok(lines.every((l) => l.level === 30));
    advance(10_000);
    t.info('new_gateway', { i: 'later' }, 'new gateway');
    assert.equal(lines[3]!.suppressedSinceLast, 17);
  });
});
