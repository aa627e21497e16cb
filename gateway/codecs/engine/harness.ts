// The JavaScript that runs inside each codec's QuickJS context, around the vendor's code. It is
// evaluated before the codec, so it holds JSON, Object and friends as they were when the codec
// could not yet have touched them, and it:
//   - freezes every built-in object (constructors, prototypes, Math, JSON, the intrinsics only
//     syntax reaches), so that a codec cannot keep state in them from one uplink to the next;
//   - runs the codec's top-level code anew for every uplink (the source is the body of a function,
//     compiled once): its variables, closures and lookup tables start from their initial values
//     each time, as they do in the network servers, which create a context per call;
//   - puts the global object back as it was after loading (implicit globals of sloppy codecs,
//     replaced built-ins) and reports when it cannot, so that the engine builds a new context;
//   - takes requests and gives results as JSON text: nothing but strings crosses into the host.
//
// The request and result shapes are in engine/protocol.ts. Every entry point the two network
// servers have known is recognised: decodeUplink / normalizeUplink / encodeDownlink /
// decodeDownlink (The Things Stack, ChirpStack v4), Decoder / Encoder / Converter / Validator
// (The Things Network v2), Decode / Encode (ChirpStack v3).

/** Longest result text a codec may produce for one request, in UTF-16 units. */
export const MAX_RESULT_CHARS = 256 * 1024;

/** The harness, with the most array buffer bytes one request may allocate. */
export function harnessSource(bufferBytes: number): string {
  return HARNESS_SOURCE.replace('__BUFFER_BYTES__', String(Math.floor(bufferBytes)));
}

const HARNESS_SOURCE = String.raw`
(function (global) {
  'use strict';
  const O = Object, R = Reflect;
  const freeze = O.freeze, getProto = O.getPrototypeOf, getDesc = O.getOwnPropertyDescriptor,
    defineProp = O.defineProperty, isExtensible = O.isExtensible, ownKeys = R.ownKeys, apply = R.apply;
  const parse = JSON.parse, stringify = JSON.stringify, isArray = Array.isArray, DateCtor = Date,
    StringCtor = String, SetCtor = Set, setHas = Set.prototype.has, setAdd = Set.prototype.add;
  const MAX = ${MAX_RESULT_CHARS};

  // QuickJS's heap limit does not count what array buffers hold (it counts each allocation by a
  // fixed overhead where the allocator cannot tell its size), so a codec could grow the engine's
  // memory through them without bound. Every way to make one goes through these wrappers, which
  // charge its bytes to the request; past the budget the allocation throws.
  const BUFFER_BYTES = __BUFFER_BYTES__;
  let bufferUsed = 0;
  const charge = (n) => {
    n = +n;
    if (!(n > 0)) return;
    bufferUsed += n;
    if (bufferUsed > BUFFER_BYTES) throw new RangeError('out of memory: array buffers of one request over ' + BUFFER_BYTES + ' bytes');
  };
  const ArrayBufferCtor = ArrayBuffer, ArrayFrom = Array.from;
  const byteLengthOf = getDesc(ArrayBufferCtor.prototype, 'byteLength').get;
  const isBuffer = (x) => { try { apply(byteLengthOf, x, []); return true; } catch (_) { return false; } };
  const wrapConstructor = (C, bytesFor) => {
    const P = new Proxy(C, {
      construct(target, args, newTarget) {
        const a = [];
        for (let i = 0; i < args.length; i++) a.push(args[i]);
        charge(bytesFor(a));
        return R.construct(target, a, newTarget === P ? target : newTarget);
      },
    });
    defineProp(C.prototype, 'constructor', { value: P, writable: true, configurable: true, enumerable: false });
    defineProp(global, C.name, { value: P, writable: true, configurable: true, enumerable: false });
  };
  wrapConstructor(ArrayBufferCtor, (a) => {
    const max = a[1] !== null && typeof a[1] === 'object' ? +a[1].maxByteLength : 0;
    return (+a[0] || 0) > (max || 0) ? +a[0] : max;
  });
  for (const name of ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float16Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array']) {
    const C = global[name];
    if (typeof C !== 'function') continue;
    const size = C.BYTES_PER_ELEMENT;
    wrapConstructor(C, (a) => {
      const x = a[0];
      if (x === null || typeof x !== 'object') return (+x || 0) * size;
      if (isBuffer(x)) return 0;
      // an iterable without a length is read into an ordinary array first (the heap limit counts that)
      if (typeof x.length !== 'number') a[0] = apply(ArrayFrom, undefined, [x]);
      return (+a[0].length || 0) * size;
    });
  }
  for (const m of ['resize', 'transfer', 'transferToFixedLength']) {
    const f = ArrayBufferCtor.prototype[m];
    if (typeof f !== 'function') continue;
    defineProp(ArrayBufferCtor.prototype, m, { value: function (n) { charge(n === undefined ? apply(byteLengthOf, this, []) : n); return apply(f, this, arguments); }, writable: true, configurable: true });
  }
  if (typeof global.SharedArrayBuffer === 'function') R.deleteProperty(global, 'SharedArrayBuffer');

  const noop = function () {};
  defineProp(global, 'console', { value: { log: noop, info: noop, warn: noop, error: noop, debug: noop, trace: noop }, writable: true, configurable: true });

  // Freeze what the built-ins reach, including intrinsics reachable only through syntax.
  const seen = new SetCtor();
  const harden = (o) => {
    if ((typeof o !== 'object' && typeof o !== 'function') || o === null || o === global || apply(setHas, seen, [o])) return;
    apply(setAdd, seen, [o]);
    freeze(o);
    harden(getProto(o));
    const keys = ownKeys(o);
    for (let i = 0; i < keys.length; i++) {
      const d = getDesc(o, keys[i]);
      if (d === undefined) continue;
      if ('value' in d) harden(d.value);
      else { harden(d.get); harden(d.set); }
    }
  };
  const roots = [
    function* () {}, (function* () {})(), async function () {}, async function* () {}, (async function* () {})(),
    [][Symbol.iterator](), ''[Symbol.iterator](), new Map()[Symbol.iterator](), new Set()[Symbol.iterator](),
    /a/[Symbol.matchAll](''), Promise.resolve(), new ArrayBuffer(0), new DataView(new ArrayBuffer(0)), new Int8Array(0),
  ];
  for (let i = 0; i < roots.length; i++) harden(roots[i]);
  { const keys = ownKeys(global); for (let i = 0; i < keys.length; i++) { const d = getDesc(global, keys[i]); if (d && 'value' in d) harden(d.value); } }
  harden(getProto(global));

  let codec = null;          // the compiled codec: a function returning its entry points
  const baseProto = getProto(global);

  // The global object's own properties become read-only and fixed, so that none of them can change
  // from one uplink to the next; what a codec adds (the implicit globals of sloppy code) is
  // deleted after each request. A codec that makes an addition undeletable, or locks the global
  // object, gets a new context.
  {
    const keys = ownKeys(global);
    for (let i = 0; i < keys.length; i++) {
      const d = getDesc(global, keys[i]);
      if (d.configurable) defineProp(global, keys[i], 'value' in d ? { writable: false, configurable: false } : { configurable: false });
      else if (d.writable) defineProp(global, keys[i], { writable: false });
    }
  }
  let baselineCount = -1;    // own properties of the global object before the codec's code first ran
  let baselineKeys = null;

  const resetGlobals = () => {
    if (!isExtensible(global) || getProto(global) !== baseProto) return false;
    const keys = ownKeys(global);
    if (keys.length === baselineCount) return true;
    for (let i = 0; i < keys.length; i++) {
      if (apply(setHas, baselineKeys, [keys[i]])) continue;
      if (!R.deleteProperty(global, keys[i])) return false;
    }
    return ownKeys(global).length === baselineCount;
  };

  const message = (e) => {
    try {
      if (e !== null && typeof e === 'object' && typeof e.message === 'string') return (typeof e.name === 'string' ? e.name + ': ' : '') + e.message;
      return StringCtor(e);
    } catch (_) { return 'an unprintable value'; }
  };

  const NAMES = ['decodeUplink', 'normalizeUplink', 'encodeDownlink', 'decodeDownlink', 'Decoder', 'Encoder', 'Converter', 'Validator', 'Decode', 'Encode'];

  // A fresh instance of the codec: its top-level code runs again, its functions are new closures.
  const instantiate = () => {
    const module = { exports: {} };
    const found = apply(codec, global, [module, module.exports]);
    const exported = module.exports !== null && typeof module.exports === 'object' ? module.exports : {};
    const fns = {};
    for (let i = 0; i < NAMES.length; i++) {
      const n = NAMES[i];
      const f = typeof found[i] === 'function' ? found[i] : typeof exported[n] === 'function' ? exported[n] : typeof global[n] === 'function' ? global[n] : undefined;
      if (f !== undefined) fns[n] = f;
    }
    return fns;
  };

  const bytesOut = (v, what) => {
    if (!isArray(v) && !(v !== null && typeof v === 'object' && typeof v.length === 'number')) throw new TypeError(what + ' returned no byte array');
    const out = [];
    for (let i = 0; i < v.length; i++) {
      const b = v[i];
      if (typeof b !== 'number' || b !== b || b < 0 || b > 255 || b % 1 !== 0) throw new TypeError(what + ': byte ' + i + ' is ' + StringCtor(b) + ', not an integer 0..255');
      out.push(b);
    }
    return out;
  };

  const ops = {
    up(fns, q) {
      const bytes = q.bytes, fPort = q.fPort, variables = q.variables;
      let result, entry;
      if (fns.decodeUplink) {
        entry = 'decodeUplink';
        result = fns.decodeUplink({ bytes, fPort, variables, recvTime: new DateCtor(q.recvTime) });
      } else if (fns.Decode) {
        entry = 'Decode';
        result = { data: fns.Decode(fPort, bytes, variables) };
      } else if (fns.Decoder) {
        entry = 'Decoder';
        let data = fns.Decoder(bytes, fPort);
        if (fns.Converter) data = fns.Converter(data, fPort);
        if (fns.Validator && fns.Validator(data, fPort) === false) result = { errors: ['Validator refused the decoded payload'] };
        else result = { data };
      } else throw new TypeError('the codec defines none of decodeUplink, Decode, Decoder');
      let normalized = null;
      if (fns.normalizeUplink && result !== null && typeof result === 'object' && result.data !== undefined && !(isArray(result.errors) && result.errors.length > 0)) {
        try { normalized = fns.normalizeUplink({ data: result.data }); } catch (e) { normalized = { errors: ['normalizeUplink threw: ' + message(e)] }; }
      }
      return { entry, result, normalized };
    },
    down(fns, q) {
      let result, entry;
      if (fns.encodeDownlink) {
        entry = 'encodeDownlink';
        const input = { data: q.data, variables: q.variables };
        if (q.fPort !== null) input.fPort = q.fPort;
        result = fns.encodeDownlink(input);
        if (result !== null && typeof result === 'object' && result.bytes !== undefined) result.bytes = bytesOut(result.bytes, 'encodeDownlink');
      } else if (fns.Encode) {
        entry = 'Encode';
        result = { bytes: bytesOut(fns.Encode(q.fPort, q.data, q.variables), 'Encode') };
      } else if (fns.Encoder) {
        entry = 'Encoder';
        result = { bytes: bytesOut(fns.Encoder(q.data, q.fPort), 'Encoder') };
      } else throw new TypeError('the codec defines none of encodeDownlink, Encode, Encoder');
      return { entry, result, normalized: null };
    },
    'down-decode'(fns, q) {
      if (!fns.decodeDownlink) return { entry: null, result: null, normalized: null };
      return { entry: 'decodeDownlink', result: fns.decodeDownlink({ bytes: q.bytes, fPort: q.fPort, variables: q.variables }), normalized: null };
    },
  };

  // The codec runs inside these calls and can reach them (the global object holds them): a call
  // from the codec, while one is in progress, would start a request of its own with a fresh array
  // buffer budget (a codec under a 4 MiB limit held 300 MiB that way) and run the codec again
  // inside itself. Only the host calls them, one at a time.
  let busy = false;
  const exclusive = (fn) => function (arg) {
    if (busy) throw new TypeError('__fieldproof is the engine\'s, not the codec\'s to call');
    busy = true;
    try {
      return fn(arg);
    } finally {
      busy = false;
    }
  };

  const api = {
    // Compile-time check and installation: the codec's function and the baseline after loading.
    install: exclusive((fn) => {
      if (codec !== null) throw new TypeError('a codec is installed already');
      bufferUsed = 0;
      codec = fn;
      const keys = ownKeys(global);
      baselineKeys = new SetCtor(keys);
      baselineCount = keys.length;
      const fns = instantiate();
      if (!resetGlobals()) throw new TypeError('the codec locked the global object while loading');
      const names = [];
      for (const k in fns) names.push(k);
      return stringify(names);
    }),
    // One request, as JSON text; the answer as JSON text: {ok, entry, result, normalized} or {ok:false, error}.
    run: exclusive((requestJson) => {
      let out;
      bufferUsed = 0;
      try {
        const q = parse(requestJson);
        const op = ops[q.op];
        if (op === undefined) throw new TypeError('unknown op');
        const r = op(instantiate(), q);
        out = stringify({ ok: true, entry: r.entry, result: r.result === undefined ? null : r.result, normalized: r.normalized === undefined ? null : r.normalized });
        if (typeof out !== 'string') out = stringify({ ok: false, error: 'the result cannot be written as JSON' });
      } catch (e) {
        out = stringify({ ok: false, error: message(e).slice(0, 500) });
      }
      if (out.length > MAX) out = stringify({ ok: false, error: 'the result is ' + out.length + ' characters of JSON, more than ' + MAX });
      return out;
    }),
    reset: exclusive(() => resetGlobals()),
  };
  harden(api);
  defineProp(global, '__fieldproof', { value: api, writable: false, configurable: false, enumerable: false });
})(globalThis);
`;

/** Entry points the codec's wrapper hands back, in HARNESS_SOURCE's NAMES order. */
const ENTRY_NAMES = ['decodeUplink', 'normalizeUplink', 'encodeDownlink', 'decodeDownlink', 'Decoder', 'Encoder', 'Converter', 'Validator', 'Decode', 'Encode'];

/**
 * The codec's source (export keywords already dropped) as the body of a function that returns its entry points. The prefix stays on
 * the first line so that line numbers in errors are the file's. `module` and `exports` come from
 * an outer function, so a codec that declares its own with let or const still compiles.
 */
export function wrapCodecSource(source: string): string {
  const found = ENTRY_NAMES.map((n) => `typeof ${n} === 'function' ? ${n} : undefined`).join(', ');
  return `(function (module, exports) { return (function () {${source}\n;return [${found}];}).apply(this, []); })`;
}

/**
 * Vendor repositories ship some codecs as ES modules (`export function decodeUplink`); the
 * function is the same, so the keyword is dropped and the file runs as a plain script.
 */
export function withoutExportKeywords(source: string): string {
  return source.replace(/^(\s*)export\s+(?:default\s+)?(?=(?:async\s+)?function\b|const\b|let\b|var\b|class\b)/gm, '$1');
}
