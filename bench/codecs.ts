// `fieldproof bench codecs`: vendor codecs through the isolated engine, as the gateway runs them.
import { readFileSync } from 'node:fs';
import { newQuickJSWASMModule, RELEASE_SYNC } from 'quickjs-emscripten';
import { parseFlags, positiveInt, printJson } from '../kernel/command.ts';
import type { UplinkInput } from '../gateway/codecs/codec.ts';
import { CodecEngine } from '../gateway/codecs/engine/host.ts';
import { DEFAULT_LIMITS } from '../gateway/codecs/engine/protocol.ts';
import { QuickJsCodecEngine } from '../gateway/codecs/engine/quickjs-engine.ts';
import { JsCodec } from '../gateway/codecs/js-codec.ts';

export const help = `usage: fieldproof bench codecs [--uplinks N] [--batch B] [--codecs K] [--json]

Decodes N uplinks (default 20000) with a typical vendor codec (decentlab-style {value, unit}
objects) through the isolated engine: a QuickJS runtime on the engine's worker thread, each uplink
from the codec's initial state, results mapped to readings, B uplinks per round trip to the
worker (default 64, the gateway's batch). uplinks_per_s is the whole way, as the gateway sees it.

Then loads K more codecs (default 50) and reports the process's resident memory per loaded codec.
Also measured on this thread, without the worker: a request with the reset the engine does
(reset_us_per_uplink) against a context built afresh for every uplink (fresh_context_us_per_uplink),
the alternative the engine does not take.`;

const CODEC = new URL('../gateway/codecs/examples/decentlab-style.js', import.meta.url);
const PAYLOAD = Buffer.from('02012f00036c3e6d410c60', 'hex');

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { uplinks: { type: 'string' }, batch: { type: 'string' }, codecs: { type: 'string' }, json: { type: 'boolean' } });
  const n = positiveInt(values.uplinks, 'uplinks', 20_000);
  const batch = positiveInt(values.batch, 'batch', 64);
  const k = positiveInt(values.codecs, 'codecs', 50);
  const say = (s: string) => {
    if (!values.json) process.stderr.write(s + '\n');
  };
  const source = readFileSync(CODEC, 'utf8');
  const rssStart = process.memoryUsage().rss;
  const engine = new CodecEngine();
  await engine.start();
  try {
    const codec = await JsCodec.load(engine, 'decentlab-style.js', source);
    const rssEngine = process.memoryUsage().rss;
    const inputs: UplinkInput[] = Array.from({ length: batch }, () => ({ bytes: PAYLOAD, fPort: 1, recvTime: Date.now() }));
    // warm up the engine and both threads' compilers
    for (let i = 0; i < 20; i++) await codec.decodeBatch(inputs);
    say(`decoding ${n} uplinks in batches of ${batch}`);
    let readings = 0;
    let failed = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let done = 0; done < n; done += batch) {
      const outs = await codec.decodeBatch(done + batch <= n ? inputs : inputs.slice(0, n - done));
      for (const o of outs) {
        if (o.ok) readings += o.readings.length;
        else failed++;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);

    say(`loading ${k} more codecs`);
    const before = process.memoryUsage().rss;
    const loaded: JsCodec[] = [];
    for (let i = 0; i < k; i++) loaded.push(await JsCodec.load(engine, `copy-${i}.js`, source));
    // each decodes once, so that what a codec costs in use is counted, not only its loading
    for (const c of loaded) await c.decodeBatch(inputs.slice(0, 1));
    const rssPerCodec = (process.memoryUsage().rss - before) / k;

    say('per-uplink cost on this thread: reset against a fresh context');
    const inThread = await inThreadCosts(source, Math.min(n, 5000));
    printJson({
      codec: 'decentlab-style.js',
      uplinks: n,
      batch,
      failed,
      readings_per_uplink: Math.round((readings / Math.max(1, n - failed)) * 100) / 100,
      uplinks_per_s: Math.round(n / seconds),
      main_thread_cpu_us_per_uplink: Math.round(((cpu.user + cpu.system) / n) * 10) / 10,
      reset_us_per_uplink: inThread.resetUs,
      fresh_context_us_per_uplink: inThread.freshUs,
      rss_per_codec_bytes: Math.round(rssPerCodec),
      rss_per_codec_mib: Math.round((rssPerCodec / 1048576) * 1000) / 1000,
      engine_rss_bytes: rssEngine - rssStart,
      codecs_loaded: k + 1,
      engine_restarts: engine.restarts,
    });
    return failed === 0 ? 0 : 1;
  } finally {
    await engine.stop();
  }
}

/** The engine's request (fresh top-level scope, global reset) against a new context per uplink. */
async function inThreadCosts(source: string, n: number): Promise<{ resetUs: number; freshUs: number }> {
  const module = await newQuickJSWASMModule(RELEASE_SYNC);
  const engine = new QuickJsCodecEngine(module);
  engine.load({ id: 1, name: 'bench.js', source, limits: DEFAULT_LIMITS });
  const request = { op: 'up' as const, bytes: [...PAYLOAD], fPort: 1, recvTime: Date.now(), variables: {} };
  const requests = Array.from({ length: n }, () => request);
  engine.run(1, requests.slice(0, 200), () => undefined);
  let t = performance.now();
  engine.run(1, requests, () => undefined);
  const resetUs = ((performance.now() - t) * 1000) / n;
  engine.unload(1);

  const runtime = module.newRuntime();
  runtime.setMemoryLimit(DEFAULT_LIMITS.memoryBytes);
  const call = `JSON.stringify(decodeUplink({ bytes: ${JSON.stringify(request.bytes)}, fPort: 1, variables: {}, recvTime: new Date() }))`;
  const fresh = () => {
    const context = runtime.newContext();
    context.evalCode(source).dispose();
    const r = context.evalCode(call);
    if (r.error) r.error.dispose();
    else {
      context.getString(r.value);
      r.value.dispose();
    }
    context.dispose();
  };
  const m = Math.min(n, 2000);
  for (let i = 0; i < 100; i++) fresh();
  t = performance.now();
  for (let i = 0; i < m; i++) fresh();
  const freshUs = ((performance.now() - t) * 1000) / m;
  runtime.dispose();
  return { resetUs: Math.round(resetUs * 10) / 10, freshUs: Math.round(freshUs * 10) / 10 };
}
