// The request bodies of `fieldproof bench fleet`: per device, a signed chain of batches encoded as
// its uplink sends them by default (columnar, gzip). Signing a million readings takes tens of
// seconds of one core, so the load generator builds them on worker threads before it is timed.
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { headerHash } from '../protocol/batch.ts';
import { encodeColumnar } from '../protocol/columnar/encoder.ts';
import { keyFromSeed } from '../protocol/signature.ts';
import { makeChain } from './signed-chain.ts';

export interface FleetDevice {
  id: string;
  /** hex Ed25519 seed: the device's own key */
  seed: string;
}

export interface ChainShape {
  batches: number;
  records: number;
  sensors: number;
}

export interface DeviceBodies {
  id: string;
  /** gzip-compressed columnar bodies, batch 1 first */
  bodies: Uint8Array[];
  /** each batch's header hash, which its receipt must name */
  hashes: string[];
}

function build(devices: readonly FleetDevice[], shape: ChainShape): DeviceBodies[] {
  return devices.map(({ id, seed }) => {
    const chain = makeChain(id, keyFromSeed(seed), shape.batches, shape.records, { sensors: shape.sensors });
    return {
      id,
      bodies: chain.map((b) => new Uint8Array(gzipSync(encodeColumnar(b.header, b.records as unknown as Record<string, unknown>[])))),
      hashes: chain.map((b) => headerHash(b.header)),
    };
  });
}

/** Every device's bodies, built on as many worker threads as there are cores; `done` counts devices finished. */
export async function buildBodies(devices: readonly FleetDevice[], shape: ChainShape, done: (n: number) => void): Promise<DeviceBodies[]> {
  const threads = Math.max(1, Math.min(availableParallelism(), 8));
  // slices of 50 devices handed out in turn, so that the threads finish together and progress shows
  const slices: FleetDevice[][] = [];
  for (let i = 0; i < devices.length; i += 50) slices.push(devices.slice(i, i + 50));
  const out: DeviceBodies[][] = new Array(slices.length);
  let next = 0;
  let finished = 0;
  const worker = () => new Promise<void>((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { fleetBodies: shape } });
    const give = () => {
      if (next >= slices.length) {
        void w.terminate().then(() => resolve());
        return;
      }
      const at = next++;
      w.once('message', (built: DeviceBodies[]) => {
        out[at] = built;
        finished += built.length;
        done(finished);
        give();
      });
      w.postMessage(slices[at]);
    };
    w.once('error', reject);
    give();
  });
  await Promise.all(Array.from({ length: Math.min(threads, slices.length) }, worker));
  return out.flat();
}

if (!isMainThread && (workerData as { fleetBodies?: ChainShape } | null)?.fleetBodies) {
  const shape = (workerData as { fleetBodies: ChainShape }).fleetBodies;
  parentPort!.on('message', (devices: FleetDevice[]) => {
    const built = build(devices, shape);
    parentPort!.postMessage(built, built.flatMap((d) => d.bodies.map((b) => b.buffer as ArrayBuffer)));
  });
}
