// What the main thread and the codec engine's worker say to each other. Requests carry the codec's
// input as plain data; answers carry what the codec returned after it went through JSON inside the
// engine, so they are plain data too.

/** Limits each codec runs under, inside its own QuickJS runtime. */
export interface EngineLimits {
  /** per request (one uplink, one downlink), ms */
  timeoutMs: number;
  /** the codec's loading (its first run of its top-level code), ms */
  loadTimeoutMs: number;
  /** the QuickJS runtime's heap, bytes */
  memoryBytes: number;
  /** the QuickJS runtime's stack, bytes */
  stackBytes: number;
}

export const DEFAULT_LIMITS: EngineLimits = {
  timeoutMs: 100,
  loadTimeoutMs: 1000,
  memoryBytes: 16 * 1024 * 1024,
  stackBytes: 256 * 1024,
};

export type Variables = Record<string, string>;

export type EngineRequest =
  | { op: 'up'; bytes: number[]; fPort: number; recvTime: number; variables: Variables }
  | { op: 'down'; data: unknown; fPort: number | null; variables: Variables }
  | { op: 'down-decode'; bytes: number[]; fPort: number; variables: Variables };

/** Why a request produced nothing usable. */
export type EngineFailure = 'threw' | 'timeout' | 'out_of_memory' | 'crashed' | 'overload';

export type EngineResult =
  | {
      ok: true;
      /** the entry point that ran: decodeUplink, Decoder, Decode, encodeDownlink, ... (null: none for this op) */
      entry: string | null;
      /** what it returned; legacy entry points' results are wrapped as {data} or {bytes} */
      result: unknown;
      /** normalizeUplink's result, when the codec has one and decoding succeeded */
      normalized: unknown;
      /** said about the run, not by the codec (pending promise jobs discarded, a context rebuilt) */
      notes: string[];
    }
  | { ok: false; failure: EngineFailure; error: string };

export interface LoadSpec {
  id: number;
  name: string;
  source: string;
  limits: EngineLimits;
}

export type WorkerRequest =
  | { type: 'load'; spec: LoadSpec }
  | { type: 'unload'; id: number }
  | { type: 'run'; seq: number; id: number; requests: EngineRequest[] };

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'loaded'; id: number; entries: string[] }
  | { type: 'load_failed'; id: number; error: string }
  | { type: 'results'; seq: number; results: EngineResult[] };

/** Slots of the shared progress array: which run and which request in it the worker is on. */
export const PROGRESS_SEQ = 0;
export const PROGRESS_INDEX = 1;
