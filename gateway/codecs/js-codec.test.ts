import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { CodecOutcome, UplinkInput } from './codec.ts';
import { CodecEngine } from './engine/host.ts';
import { CodecLoadError, JsCodec } from './js-codec.ts';

const codecFile = (name: string) => fileURLToPath(new URL(`../testdata/codecs/${name}`, import.meta.url));
const RECV = Date.UTC(2026, 0, 1);
const up = (bytes: number[], fPort = 1, variables: Record<string, string> = {}): UplinkInput => ({ bytes: Uint8Array.from(bytes), fPort, recvTime: RECV, variables });
const data = (o: CodecOutcome | undefined) => (o && o.ok ? o.decoded?.data : o);

describe('JavaScript codecs in the isolated engine', () => {
  const engine = new CodecEngine();
  before(() => engine.start());
  after(() => engine.stop());

  it('runs a vendor decodeUplink and maps its data to readings', async () => {
    const codec = await JsCodec.fromFile(engine, codecFile('vendor-th.js'));
    const [out, wrongPort] = await codec.decodeBatch([up([0x09, 0x1a, 0x5b, 0x0e, 0x10], 2), up([1, 2, 3, 4, 5], 3)]);
    assert.ok(out && out.ok);
    assert.deepEqual(out.readings, [
      { metric: 'temperature_c', unit: 'degC', value: 23.3 },
      { metric: 'humidity_pct', unit: '%', value: 45.5 },
      { metric: 'battery_v', unit: 'V', value: 3.6 },
    ]);
    assert.deepEqual(wrongPort && !wrongPort.ok && [wrongPort.reason, wrongPort.error], ['codec_errors', 'unexpected fPort 3']);
  });

  it('gives decodeUplink the ChirpStack v4 input: bytes, fPort, variables and recvTime as a Date', async () => {
    const codec = await JsCodec.load(engine, 'v4.js', `function decodeUplink(input) {
      return { data: { isArray: Array.isArray(input.bytes), fPort: input.fPort, time: input.recvTime instanceof Date ? input.recvTime.getTime() : -1, v: input.variables.scale } };
    }`);
    const [out] = await codec.decodeBatch([up([1], 7, { scale: '10' })]);
    assert.deepEqual(data(out), { isArray: 1 === 1, fPort: 7, time: RECV, v: '10' });
  });

  it('lets codecs use typed arrays and DataView for floats, within the request\'s budget', async () => {
    const codec = await JsCodec.load(engine, 'float.js', `function decodeUplink(input) {
      var view = new DataView(new ArrayBuffer(4));
      Uint8Array.from(input.bytes).slice(0, 4).forEach(function (b, i) { view.setUint8(i, b); });
      return { data: { t: Math.round(view.getFloat32(0) * 100) / 100, isU8: new Uint8Array(2) instanceof Uint8Array } };
    }`);
    const [out] = await codec.decodeBatch([up([0x41, 0xc4, 0x00, 0x00])]);
    assert.deepEqual(data(out), { t: 24.5, isU8: true });
  });

  it('runs the legacy entry points: TTN v2 Decoder (with Converter and Validator) and ChirpStack v3 Decode', async () => {
    const v2 = await JsCodec.load(engine, 'v2.js', `
      function Decoder(bytes, port) { return { t: bytes[0], port: port }; }
      function Converter(decoded, port) { decoded.converted = true; return decoded; }
      function Validator(converted, port) { return converted.t !== 255; }`);
    const [ok, refused] = await v2.decodeBatch([up([21], 5), up([255], 5)]);
    assert.deepEqual(data(ok), { t: 21, port: 5, converted: true });
    assert.equal(ok && ok.ok && ok.decoded?.entry, 'Decoder');
    assert.deepEqual(refused && !refused.ok && refused.reason, 'codec_errors');
    const v3 = await JsCodec.load(engine, 'v3.js', 'function Decode(fPort, bytes, variables) { return { t: bytes[0], port: fPort, k: variables.k }; }');
    const [out] = await v3.decodeBatch([up([3], 9, { k: 'x' })]);
    assert.deepEqual(data(out), { t: 3, port: 9, k: 'x' });
  });

  it('accepts codecs written as ES or CommonJS modules', async () => {
    const esm = await JsCodec.load(engine, 'esm.js', 'export function decodeUplink(input) { return { data: { n: input.bytes.length } }; }');
    const cjs = await JsCodec.load(engine, 'cjs.js', 'function dec(input) { return { data: { n: input.bytes.length } }; }\nmodule.exports = { decodeUplink: dec };');
    assert.deepEqual(data((await esm.decodeBatch([up([1, 2])]))[0]), { n: 2 });
    assert.deepEqual(data((await cjs.decodeBatch([up([1, 2, 3])]))[0]), { n: 3 });
  });

  it('refuses at load a syntax error, a codec without an entry point, and one that escapes its wrapper, in one line', async () => {
    const cases: [string, RegExp][] = [
      ['function decodeUplink(input) {\n  return {;\n}', /^codec bad\.js: SyntaxError: .*\(line 2\)$/],
      ['function somethingElse() {}', /defines none of decodeUplink/],
      ['}); var leak = 1; (function () {', /^codec bad\.js: SyntaxError/],
      ['for (;;) {}', /failed while loading/],
    ];
    for (const [source, re] of cases) {
      // Only the endless loop needs a short budget; the others must fail for their own reason, not
      // because a loaded machine took longer than a short one to set the harness up.
      const loadTimeoutMs = source.startsWith('for') ? 200 : 5000;
      await assert.rejects(JsCodec.load(engine, 'bad.js', source, { limits: { loadTimeoutMs } }), (e: Error) => e instanceof CodecLoadError && re.test(e.message) && !e.message.includes('\n'));
    }
  });

  it('starts every uplink from the codec\'s initial state, whatever it tries', async () => {
    const codec = await JsCodec.fromFile(engine, codecFile('leaky.js'));
    const outs = await codec.decodeBatch([up([1]), up([2]), up([3])]);
    const again = await codec.decodeBatch([up([4])]);
    const first = { calls: 1, closure: 1, implicit: 1, global: 1, math: 0, proto: 0, hidden: 1, pinned: 1 };
    for (const o of [...outs, ...again]) assert.deepEqual(data(o), first);
  });

  it('stops a codec that loops forever, reports it, and decodes the rest of the batch', async () => {
    const codec = await JsCodec.fromFile(engine, codecFile('loops-forever.js'), { limits: { timeoutMs: 50 } });
    const started = performance.now();
    const out = await codec.decodeBatch([up([10]), up([0xff]), up([30])]);
    const took = performance.now() - started;
    const first = out[0]!;
    assert.ok(first.ok && first.readings[0]!.value === 10);
    assert.deepEqual(out[1], { ok: false, reason: 'timeout', error: 'ran past 50 ms and was stopped' });
    assert.ok(out[2]!.ok);
    assert.ok(took >= 50 && took < 5000, `took ${took} ms`);
  });

  it('switches a codec off after repeated timeouts, and back on after the cooldown', async () => {
    let now = 1_000_000;
    const codec = await JsCodec.load(engine, 'spin.js', 'function decodeUplink(i) { while (true) {} }', { limits: { timeoutMs: 20 }, maxConsecutiveTimeouts: 2, cooldownMs: 60_000, now: () => now });
    assert.equal((await codec.decodeBatch([up([1])]))[0]!.ok, false);
    await codec.decodeBatch([up([1])]);
    const [off] = await codec.decodeBatch([up([1])]);
    assert.equal(off && !off.ok && off.reason, 'disabled');
    now += 61_000;
    const [back] = await codec.decodeBatch([up([1])]);
    assert.equal(back && !back.ok && back.reason, 'timeout');
  });

  it('holds against a hostile codec: each attack fails alone and the codec still decodes afterwards', async () => {
    const codec = await JsCodec.fromFile(engine, codecFile('hostile.js'), { limits: { timeoutMs: 1000, memoryBytes: 4 * 1024 * 1024 }, maxConsecutiveTimeouts: 100 });
    const expect: [number, (o: CodecOutcome) => boolean, string][] = [
      [1, (o) => !o.ok && o.reason === 'timeout', 'infinite loop'],
      [2, (o) => !o.ok && o.reason === 'threw' && /stack overflow/i.test(o.error), 'deep recursion'],
      [3, (o) => !o.ok && o.reason === 'out_of_memory', 'allocates until it dies'],
      [4, (o) => o.ok && o.decoded?.data !== undefined, 'promise-job spin returns, its jobs are discarded'],
      [5, (o) => !o.ok && o.reason === 'timeout', 'looping getter'],
      [6, (o) => !o.ok && o.reason === 'timeout', 'looping toJSON'],
      [7, (o) => o.ok && JSON.stringify(o.decoded?.data) === '{"rewrote":1}', 'rewrites the harness and built-ins'],
      [8, (o) => !o.ok && o.reason === 'out_of_memory', 'tries to hold 130 MiB'],
      [9, (o) => !o.ok && o.reason === 'timeout', 'throws an object whose message getter loops'],
      [10, (o) => o.ok, 'locks the global object'],
      [11, (o) => !o.ok && o.reason === 'threw' && /not the codec's to call/.test(o.error), 'calls the harness from inside a request to reset its budget'],
    ];
    for (const [attack, check, what] of expect) {
      const [hit, after] = await codec.decodeBatch([up([attack]), up([42])]);
      assert.ok(check(hit!), `${what}: ${JSON.stringify(hit)}`);
      assert.deepEqual(data(after), { level_pct: 42, kept: 0 }, `after ${what}`);
    }
    assert.equal(engine.restarts, 0, 'the interrupt and the limits did it all; the watchdog was not needed');
  });

  it('encodes downlinks with encodeDownlink, Encode (v3) and Encoder (v2), and checks the bytes', async () => {
    const v4 = await JsCodec.load(engine, 'enc4.js', 'function encodeDownlink(input) { return { bytes: [input.data.n, input.variables.k.length], fPort: 3 }; }');
    assert.deepEqual(await v4.encodeDownlink({ data: { n: 7 }, fPort: null, variables: { k: 'abc' } }), { ok: true, bytes: Uint8Array.from([7, 3]), fPort: 3, warnings: [], entry: 'encodeDownlink' });
    const v3 = await JsCodec.load(engine, 'enc3.js', 'function Encode(fPort, obj, variables) { return [fPort, obj.n]; }');
    const r3 = await v3.encodeDownlink({ data: { n: 9 }, fPort: 4 });
    assert.ok(r3.ok && r3.fPort === 4 && Buffer.from(r3.bytes).equals(Buffer.from([4, 9])));
    const v2 = await JsCodec.load(engine, 'enc2.js', 'function Encoder(object, port) { return [object.n, 256]; }');
    const r2 = await v2.encodeDownlink({ data: { n: 1 }, fPort: 5 });
    assert.ok(!r2.ok && /byte 1 is 256/.test(r2.error));
    const none = await JsCodec.load(engine, 'dec.js', 'function decodeUplink(i) { return { data: {} }; }');
    assert.equal((await none.encodeDownlink({ data: {}, fPort: 1 })).ok, false);
  });
});

describe('the codec engine watchdog', () => {
  it('stops an engine that stops answering, blames the uplink it was on, and decodes the rest', async () => {
    // A worker that freezes (in the host's JavaScript, where no QuickJS interrupt reaches) when
    // asked to run the codec named "freeze.js" on a payload starting 0xee.
    const engine = new CodecEngine({ watchdogSlackMs: 300, workerUrl: new URL('../testdata/freezing-worker-entry.js', import.meta.url) });
    await engine.start();
    try {
      const codec = await JsCodec.load(engine, 'freeze.js', 'function decodeUplink(i) { return { data: { v: i.bytes[0] } }; }', { limits: { timeoutMs: 20, loadTimeoutMs: 1000 } });
      const out = await codec.decodeBatch([up([1]), up([0xee]), up([3])]);
      assert.deepEqual(data(out[0]), { v: 1 });
      assert.equal(out[1]!.ok, false);
      assert.equal((out[1] as { reason: string }).reason, 'timeout');
      assert.deepEqual(data(out[2]), { v: 3 });
      assert.equal(engine.restarts, 1);
      assert.deepEqual(data((await codec.decodeBatch([up([4])]))[0]), { v: 4 }, 'the codec was loaded into the new engine');
    } finally {
      await engine.stop();
    }
  });
});

describe('the codec engine\'s memory ceiling', () => {
  it('stops a codec whose memory the heap limit does not see, at the engine\'s ceiling, and the other codecs decode on', async () => {
    // QuickJS counts an allocation by a fixed overhead in this build, not by its size: a codec
    // under a 4 MiB limit held 100 arrays of a MiB each, or typed arrays the harness never saw
    // allocated (copies by with(), a length that changes once it has been read), out to the 2 GiB
    // the module could grow to, in the daemon's process.
    const engine = new CodecEngine({ memoryMaxBytes: 48 * 1024 * 1024 });
    await engine.start();
    try {
      const good = await JsCodec.load(engine, 'good.js', 'function decodeUplink(i) { return { data: { v: i.bytes[0] } }; }');
      const hogs = {
        arrays: 'for (var i = 0; i < 80; i++) { var a = []; for (var j = 0; j < 131072; j++) a.push(j); keep.push(a); }',
        copies: 'var b = new Uint8Array(1048576); for (var i = 0; i < 80; i++) keep.push(b.with(0, 1));',
        'a length that changes': 'for (var i = 0; i < 80; i++) { var n = 0; keep.push(new Uint8Array({ get length() { return n++ < 2 ? 0 : 1048576; } })); }',
      };
      for (const [what, body] of Object.entries(hogs)) {
        const hog = await JsCodec.load(engine, 'hog.js', `function decodeUplink(input) { var keep = []; ${body} return { data: { held: keep.length } }; }`, { limits: { timeoutMs: 5000, memoryBytes: 4 * 1024 * 1024 } });
        const [out] = await hog.decodeBatch([up([1])]);
        assert.equal(out!.ok ? 'decoded' : out!.reason, 'out_of_memory', what);
        assert.deepEqual(data((await good.decodeBatch([up([7])]))[0]), { v: 7 }, `after ${what}`);
        hog.unload();
      }
      assert.equal(engine.restarts, 0, 'an allocation past the ceiling fails inside the engine; the thread lives on');
    } finally {
      await engine.stop();
    }
  });
});
