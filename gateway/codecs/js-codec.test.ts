import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CodecLoadError, JsCodec } from './js-codec.ts';
import type { UplinkInput } from './codec.ts';

const codecFile = (name: string) => fileURLToPath(new URL(`../testdata/codecs/${name}`, import.meta.url));
const up = (bytes: number[], fPort = 1): UplinkInput => ({ bytes: Uint8Array.from(bytes), fPort, recvTime: Date.UTC(2026, 0, 1) });

describe('JavaScript codecs (decodeUplink)', () => {
  it('runs a vendor codec and maps its data to readings', () => {
    const codec = JsCodec.fromFile(codecFile('vendor-th.js'));
    const [out, wrongPort] = codec.decodeBatch([up([0x09, 0x1a, 0x5b, 0x0e, 0x10], 2), up([1, 2, 3, 4, 5], 3)]);
    assert.deepEqual(out, {
      ok: true,
      readings: [
        { metric: 'temperature_c', unit: 'degC', value: 23.3 },
        { metric: 'humidity_pct', unit: '%', value: 45.5 },
        { metric: 'battery_v', unit: 'V', value: 3.6 },
      ],
      warnings: [],
    });
    assert.deepEqual(wrongPort, { ok: false, reason: 'codec_errors', error: 'unexpected fPort 3' });
  });

  it('stops a codec that loops forever, reports it, and decodes the rest of the batch', () => {
    const codec = JsCodec.fromFile(codecFile('loops-forever.js'), { timeoutMs: 50 });
    const started = performance.now();
    const out = codec.decodeBatch([up([10]), up([0xff]), up([30])]);
    const took = performance.now() - started;
    assert.deepEqual(out[0], { ok: true, readings: [{ metric: 'level_pct', unit: '%', value: 10 }], warnings: [] });
    assert.deepEqual(out[1], { ok: false, reason: 'timeout', error: 'decodeUplink ran past 50 ms and was stopped' });
    assert.equal(out[2]!.ok, true);
    assert.ok(took >= 50 && took < 1000, `took ${took} ms`);
    assert.match(codec.lastProblem!, /ran past 50 ms/);
  });

  it('switches a codec off after repeated timeouts, so it cannot eat the event loop', () => {
    let now = 1_000_000;
    const codec = new JsCodec('spin.js', 'function decodeUplink(i) { while (true) {} }', { timeoutMs: 20, maxConsecutiveTimeouts: 2, cooldownMs: 60_000, now: () => now });
    const out = codec.decodeBatch([up([1]), up([2]), up([3])]);
    assert.deepEqual(out.map((o) => !o.ok && o.reason), ['timeout', 'timeout', 'disabled']);
    assert.ok(codec.disabled);
    const t0 = performance.now();
    assert.equal((codec.decodeBatch([up([4])])[0] as { reason: string }).reason, 'disabled');
    assert.ok(performance.now() - t0 < 20, 'a switched-off codec is not run at all');
    now += 60_001;
    assert.equal(codec.disabled, false);
    assert.equal((codec.decodeBatch([up([5])])[0] as { reason: string }).reason, 'timeout');
  });

  it('blames no uplink when a batch of legitimately slow decodes together outlasts the limit', () => {
    const codec = new JsCodec('slow.js', 'function decodeUplink(i) { const end = Date.now() + 15; while (Date.now() < end) {} return { data: { v: i.bytes[0] } }; }', { timeoutMs: 40 });
    const out = codec.decodeBatch([1, 2, 3, 4, 5, 6].map((b) => up([b])));
    assert.deepEqual(out.map((o) => o.ok), [true, true, true, true, true, true]);
  });

  it('a getter or toJSON that loops runs under the limit too', () => {
    const getter = new JsCodec('getter.js', 'function decodeUplink(i) { return { get data() { for (;;) {} } }; }', { timeoutMs: 30 });
    assert.equal((getter.decodeBatch([up([1])])[0] as { reason: string }).reason, 'timeout');
    const toJson = new JsCodec('tojson.js', 'function decodeUplink(i) { return { data: { toJSON() { for (;;) {} } } }; }', { timeoutMs: 30 });
    assert.equal((toJson.decodeBatch([up([1])])[0] as { reason: string }).reason, 'timeout');
  });

  it('a codec that throws costs only its own uplink', () => {
    const codec = new JsCodec('throws.js', 'function decodeUplink(i) { if (i.bytes[0] === 0) throw new TypeError("bad byte"); if (i.bytes[0] === 1) throw 42; return { data: { v: 1 } }; }');
    const out = codec.decodeBatch([up([0]), up([1]), up([2])]);
    assert.deepEqual(out[0], { ok: false, reason: 'threw', error: 'decodeUplink threw: bad byte' });
    assert.deepEqual(out[1], { ok: false, reason: 'threw', error: 'decodeUplink threw: 42' });
    assert.equal(out[2]!.ok, true);
  });

  it('gives the codec no way to the host: no require, process, string eval or shared memory', () => {
    const codec = new JsCodec('probe.js', `function decodeUplink(i) {
      var escaped = 0;
      try { escaped = this.constructor.constructor('return typeof process')() === 'object' ? 1 : 0; } catch (e) { escaped = -1; }
      var evalBlocked = 0;
      try { eval('1'); } catch (e) { evalBlocked = 1; }
      return { data: {
        has_require: typeof require === 'function', has_process: typeof process === 'object', has_buffer: typeof Buffer === 'function',
        has_atomics: typeof Atomics === 'object', has_wasm: typeof WebAssembly === 'object',
        foreign_function: (this.constructor && this.constructor.constructor !== Function) ? 1 : 0,
        foreign_prototype: Object.getPrototypeOf(Object.getPrototypeOf(this) || {}) === Object.prototype || Object.getPrototypeOf(this) === null ? 0 : 1,
        escaped: escaped, eval_blocked: evalBlocked, bytes_is_array: Array.isArray(i.bytes), recv_time_is_date: i.recvTime instanceof Date,
      } };
    }`);
    const out = codec.decodeBatch([up([1])])[0]!;
    assert.ok(out.ok);
    assert.deepEqual(Object.fromEntries(out.readings.map((r) => [r.metric, r.value])), {
      has_require: 0, has_process: 0, has_buffer: 0, has_atomics: 0, has_wasm: 0, foreign_function: 0, foreign_prototype: 0, escaped: -1, eval_blocked: 1, bytes_is_array: 1, recv_time_is_date: 1,
    });
  });

  it('cannot replace the harness it runs in', () => {
    const codec = new JsCodec('meddles.js', 'globalThis.__fieldproofRun = null; JSON.stringify = function () { return "{}"; }; function decodeUplink(i) { return { data: { v: 7 } }; }');
    assert.deepEqual(codec.decodeBatch([up([1])])[0], { ok: true, readings: [{ metric: 'v', unit: '', value: 7 }], warnings: [] });
  });

  it('accepts codecs written as ES modules', () => {
    const codec = new JsCodec('esm.js', 'export function decodeUplink(input) { return { data: { n: input.bytes.length } }; }');
    assert.equal(codec.decodeBatch([up([1, 2, 3])])[0]!.ok, true);
  });

  it('refuses to load a file that is not a codec, with a one-line reason', () => {
    assert.throws(() => new JsCodec('syntax.js', 'function decodeUplink(input) {'), (e: Error) => e instanceof CodecLoadError && /^codec syntax\.js: /.test(e.message) && !e.message.includes('\n'));
    assert.throws(() => new JsCodec('none.js', 'function decode(input) { return {}; }'), /defines no function decodeUplink/);
    assert.throws(() => new JsCodec('hang.js', 'for (;;) {}', { timeoutMs: 10 }), /failed while loading/);
    assert.throws(() => JsCodec.fromFile(codecFile('does-not-exist.js')), /cannot read: ENOENT/);
  });
});
