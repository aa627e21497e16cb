// The codec engine's thread: QuickJS (WebAssembly) and the codecs loaded into it. It does one
// thing at a time, in the order asked, and tells the host through a shared array which request it
// is on, so that the host's watchdog knows whom to blame if it has to stop this thread.
import { parentPort, workerData } from 'node:worker_threads';
import { newQuickJSWASMModule, RELEASE_SYNC } from 'quickjs-emscripten';
import { PROGRESS_INDEX, PROGRESS_SEQ, type WorkerReply, type WorkerRequest } from './protocol.ts';
import { CodecLoadError, QuickJsCodecEngine } from './quickjs-engine.ts';

const port = parentPort!;
const progress = new Int32Array((workerData as { progress: SharedArrayBuffer }).progress);
const engine = new QuickJsCodecEngine(await newQuickJSWASMModule(RELEASE_SYNC));
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
