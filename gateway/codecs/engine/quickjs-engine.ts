// Codecs in QuickJS, compiled to WebAssembly: each codec in a QuickJS runtime of its own, with its
// own heap limit, stack limit and an interrupt that stops it at its deadline. The codec's code and
// the host share no object: requests go in as JSON text, results come out as JSON text, read
// from WebAssembly memory once the codec has stopped running. Nothing the codec defines (a getter,
// a toJSON, a Proxy) can run on the host's time or touch the host's heap.
//
// Each request starts from the codec's initial state (harness.ts): a fresh instance of its
// top-level scope, frozen built-ins, the global object put back afterwards. When that cannot be
// guaranteed (the codec was interrupted, ran out of memory, left promise jobs, or locked the global
// object), its runtime is thrown away and built again from the source.
//
// This runs on the engine's worker thread; a WebAssembly trap (which leaves the module's memory in
// no known state) is thrown on, and the worker dies and is restarted by the host's watchdog.
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten';
import { harnessSource, withoutExportKeywords, wrapCodecSource } from './harness.ts';
import type { EngineRequest, EngineResult, LoadSpec } from './protocol.ts';

export class CodecLoadError extends Error {
  override name = 'CodecLoadError';
}

interface Instance {
  runtime: QuickJSRuntime;
  context: QuickJSContext;
  api: QuickJSHandle;
  run: QuickJSHandle;
  reset: QuickJSHandle;
}

class LoadedCodec {
  private instance: Instance | null = null;
  private deadline = 0;
  entries: string[] = [];
  /** how many times the runtime was rebuilt, for notes and the bench */
  rebuilds = 0;

  private readonly module: QuickJSWASMModule;
  readonly spec: LoadSpec;

  constructor(
    module: QuickJSWASMModule,
    spec: LoadSpec,
  ) {
    this.module = module;
    this.spec = spec;
  }

  /** Build the runtime and load the codec into it; throws CodecLoadError with a one-line reason. */
  build(): void {
    const { limits, name } = this.spec;
    const runtime = this.module.newRuntime();
    runtime.setMemoryLimit(limits.memoryBytes);
    runtime.setMaxStackSize(limits.stackBytes);
    runtime.setInterruptHandler(() => Date.now() > this.deadline);
    let context: QuickJSContext | null = null;
    try {
      context = runtime.newContext();
      this.deadline = Date.now() + limits.loadTimeoutMs;
      unwrap(context, context.evalCode(harnessSource(limits.memoryBytes), 'fieldproof-harness.js', { type: 'global' }), 'harness').dispose();
      // The source must compile on its own as a script: a codec that closes the function it is
      // wrapped in (to leave top-level state behind) does not.
      const source = withoutExportKeywords(this.spec.source);
      const check = context.evalCode(source, name, { type: 'global', compileOnly: true });
      if (check.error) throw new CodecLoadError(describe(context, check.error));
      check.value.dispose();
      const api = context.getProp(context.global, '__fieldproof');
      const install = context.getProp(api, 'install');
      const wrapped = context.evalCode(wrapCodecSource(source), name, { type: 'global' });
      if (wrapped.error) {
        install.dispose();
        api.dispose();
        throw new CodecLoadError(describe(context, wrapped.error));
      }
      const installed = context.callFunction(install, api, wrapped.value);
      wrapped.value.dispose();
      install.dispose();
      if (installed.error) {
        api.dispose();
        throw new CodecLoadError(`failed while loading: ${describe(context, installed.error)}`);
      }
      this.entries = JSON.parse(context.getString(installed.value)) as string[];
      installed.value.dispose();
      if (runtime.hasPendingJob()) {
        api.dispose();
        throw new CodecLoadError('its top-level code left promise jobs behind; codecs must be synchronous');
      }
      this.instance = { runtime, context, api, run: context.getProp(api, 'run'), reset: context.getProp(api, 'reset') };
    } catch (err) {
      context?.dispose();
      runtime.dispose();
      if (err instanceof CodecLoadError) throw err;
      throw new CodecLoadError(`failed while loading: ${(err as Error).message}`);
    }
  }

  dispose(): void {
    const i = this.instance;
    this.instance = null;
    if (!i) return;
    i.run.dispose();
    i.reset.dispose();
    i.api.dispose();
    i.context.dispose();
    i.runtime.dispose();
  }

  run(request: EngineRequest): EngineResult {
    if (!this.instance) {
      try {
        this.build();
      } catch (err) {
        return { ok: false, failure: 'threw', error: `codec could not be loaded again: ${(err as Error).message}` };
      }
    }
    const { context, api, run, reset, runtime } = this.instance!;
    const notes: string[] = [];
    this.deadline = Date.now() + this.spec.limits.timeoutMs;
    const arg = context.newString(JSON.stringify(request));
    const r = context.callFunction(run, api, arg);
    arg.dispose();
    let result: EngineResult;
    let clean = true;
    if (r.error) {
      // Only what the harness cannot catch lands here: the interrupt, or memory too short to
      // build an error message.
      const text = describe(context, r.error);
      clean = false;
      if (/interrupted/i.test(text)) result = { ok: false, failure: 'timeout', error: `ran past ${this.spec.limits.timeoutMs} ms and was stopped` };
      else if (/out of memory/i.test(text)) result = { ok: false, failure: 'out_of_memory', error: `ran out of its ${this.spec.limits.memoryBytes >> 20} MiB` };
      else result = { ok: false, failure: 'threw', error: text };
    } else {
      const parsed = JSON.parse(context.getString(r.value)) as { ok: boolean; error?: string; entry?: string | null; result?: unknown; normalized?: unknown };
      r.value.dispose();
      if (parsed.ok) result = { ok: true, entry: parsed.entry ?? null, result: parsed.result ?? null, normalized: parsed.normalized ?? null, notes };
      else {
        const error = parsed.error ?? 'failed';
        result = /out of memory/i.test(error) ? { ok: false, failure: 'out_of_memory', error: `ran out of its ${this.spec.limits.memoryBytes >> 20} MiB` } : { ok: false, failure: 'threw', error };
        if (result.failure === 'out_of_memory') clean = false;
      }
    }
    if (runtime.hasPendingJob()) {
      notes.push('promise jobs it left were discarded');
      clean = false;
    }
    if (clean) clean = this.resetGlobals();
    if (!clean) {
      // Start the next request from a runtime built anew: nothing of this one can remain.
      this.dispose();
      this.rebuilds++;
    }
    return result;
  }

  private resetGlobals(): boolean {
    const { context, api, reset } = this.instance!;
    this.deadline = Date.now() + this.spec.limits.timeoutMs;
    const r = context.callFunction(reset, api);
    if (r.error) {
      r.error.dispose();
      return false;
    }
    const ok = context.typeof(r.value) === 'boolean' && context.dump(r.value) === true;
    r.value.dispose();
    return ok;
  }
}

export class QuickJsCodecEngine {
  private readonly codecs = new Map<number, LoadedCodec>();

  private readonly module: QuickJSWASMModule;

  constructor(module: QuickJSWASMModule) {
    this.module = module;
  }

  /** Load a codec; returns the entry points it defines. */
  load(spec: LoadSpec): string[] {
    this.unload(spec.id);
    const codec = new LoadedCodec(this.module, spec);
    codec.build();
    if (!codec.entries.some((e) => e === 'decodeUplink' || e === 'Decoder' || e === 'Decode' || e === 'encodeDownlink' || e === 'Encoder' || e === 'Encode')) {
      codec.dispose();
      throw new CodecLoadError('defines none of decodeUplink(input), Decoder(bytes, port), Decode(fPort, bytes, variables), encodeDownlink(input)');
    }
    this.codecs.set(spec.id, codec);
    return codec.entries;
  }

  unload(id: number): void {
    this.codecs.get(id)?.dispose();
    this.codecs.delete(id);
  }

  /** Run requests in order; `progress(i)` is called before each, for the host's watchdog. */
  run(id: number, requests: readonly EngineRequest[], progress: (index: number) => void): EngineResult[] {
    const codec = this.codecs.get(id);
    if (!codec) return requests.map(() => ({ ok: false, failure: 'threw', error: 'codec is not loaded' }));
    const out: EngineResult[] = [];
    for (let i = 0; i < requests.length; i++) {
      progress(i);
      out.push(codec.run(requests[i]!));
    }
    return out;
  }

  /** Rebuilds of a codec's runtime so far (after timeouts, memory exhaustion, pending jobs). */
  rebuilds(id: number): number {
    return this.codecs.get(id)?.rebuilds ?? 0;
  }
}

function unwrap(context: QuickJSContext, r: ReturnType<QuickJSContext['evalCode']>, what: string): QuickJSHandle {
  if (r.error) throw new CodecLoadError(`${what}: ${describe(context, r.error)}`);
  return r.value;
}

/** An error value from inside the engine, as one line; the handle is disposed. */
function describe(context: QuickJSContext, error: QuickJSHandle): string {
  try {
    const e = context.dump(error) as unknown;
    if (e && typeof e === 'object') {
      const o = e as { name?: unknown; message?: unknown; stack?: unknown };
      const first = typeof o.stack === 'string' ? o.stack.trim().split('\n')[0]! : '';
      const where = /:(\d+)(?::\d+)?\)?$/.exec(first);
      const line = where ? ` (line ${where[1]})` : '';
      return `${typeof o.name === 'string' ? o.name + ': ' : ''}${String(o.message ?? '')}${line}`.slice(0, 500);
    }
    return String(e).slice(0, 500);
  } catch {
    return 'an error that could not be read';
  } finally {
    error.dispose();
  }
}
