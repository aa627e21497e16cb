// The codec engine's worker with a fault added, for the watchdog test: asked to run the codec
// loaded as "freeze.js" on a payload starting 0xee, it freezes in plain JavaScript, where no
// QuickJS interrupt reaches, after saying (as the real worker does) which request it is on.
import { parentPort, workerData } from 'node:worker_threads';
const progress = new Int32Array(workerData.progress);
const freezing = new Set();
parentPort.on('message', (m) => {
  if (m.type === 'load' && m.spec.name === 'freeze.js') freezing.add(m.spec.id);
  if (m.type !== 'run' || !freezing.has(m.id)) return;
  const i = m.requests.findIndex((q) => q.bytes && q.bytes[0] === 0xee);
  if (i < 0) return;
  Atomics.store(progress, 0, m.seq);
  Atomics.store(progress, 1, i);
  for (;;) {}
});
await import('../codecs/engine/worker.ts');
