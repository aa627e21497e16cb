// The codec engine's thread: QuickJS (WebAssembly) and the codecs loaded into it. It does one
// thing at a time, in the order asked, and tells the host through a shared array which request it
// is on, so that the host's watchdog knows whom to blame if it has to stop this thread.
import { parentPort, workerData } from 'node:worker_threads';
import { newQuickJSWASMModule, newVariant, RELEASE_SYNC } from 'quickjs-emscripten';
import { PROGRESS_INDEX, PROGRESS_SEQ, type WorkerReply, type WorkerRequest } from './protocol.ts';
import { CodecLoadError, QuickJsCodecEngine } from './quickjs-engine.ts';

const port = parentPort!;
const data = workerData as { progress: SharedArrayBuffer; memoryMaxBytes: number };
const progress = new Int32Array(data.progress);

/** WebAssembly pages are 64 KiB; the module starts with 16 MiB, as its own memory would. */
const PAGE = 65536;
const INITIAL_PAGES = 256;
// The module's memory, given rather than left to the module, which would let it grow to 2 GiB.
// QuickJS's per-runtime heap limit counts an allocation by a fixed overhead in this build, not by
// its size (it cannot ask the allocator for one), so a codec's large arrays, strings and buffers
// are bounded by the harness's charges where it can make them, and by this ceiling everywhere:
// past it an allocation fails and the codec gets "out of memory".
// (the project's TypeScript libraries do not declare WebAssembly; Node has it)
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => object } }).WebAssembly;
const memory = new Memory({ initial: INITIAL_PAGES, maximum: Math.max(INITIAL_PAGES, Math.ceil(data.memoryMaxBytes / PAGE)) });
const engine = new QuickJsCodecEngine(await newQuickJSWASMModule(newVariant(RELEASE_SYNC, { wasmMemory: memory })));
const reply = (r: WorkerReply) => port.postMessage(r);

port.on('message', (m: WorkerRequest) => {
  switch (m.type) {
    case 'load':
      Atomics.store(progress, PROGRESS_SEQ, -m.spec.id);
      try {
        reply({ type: 'loaded', id: m.spec.id, entries: engine.load(m.spec) });
      } catch (err) {
        // Anything but a load error (a WebAssembly trap) leaves the engine in no known state: let
        // the thread die, and the host start a new one.
        if (!(err instanceof CodecLoadError)) throw err;
        reply({ type: 'load_failed', id: m.spec.id, error: err.message });
      }
      return;
    case 'unload':
      engine.unload(m.id);
      return;
    case 'run': {
      Atomics.store(progress, PROGRESS_SEQ, m.seq);
      const results = engine.run(m.id, m.requests, (i) => Atomics.store(progress, PROGRESS_INDEX, i));
      reply({ type: 'results', seq: m.seq, results });
      return;
    }
  }
});
reply({ type: 'ready' });
