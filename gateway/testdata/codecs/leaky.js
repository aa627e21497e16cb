// A codec that tries every way it has to carry state from one uplink to the next.
var calls = 0;
var counter = (function () { var n = 0; return function () { return ++n; }; })();
function decodeUplink(input) {
  calls++;
  implicitGlobal = (typeof implicitGlobal === 'number' ? implicitGlobal : 0) + 1;
  globalThis.viaGlobalThis = (globalThis.viaGlobalThis || 0) + 1;
  try { Math.stash = (Math.stash || 0) + 1; } catch (e) {}
  try { Array.prototype.stash = (Array.prototype.stash || 0) + 1; } catch (e) {}
  try { Object.defineProperty(globalThis, 'hidden', { value: (globalThis.hidden || 0) + 1, enumerable: false, configurable: true, writable: true }); } catch (e) {}
  try { Object.defineProperty(globalThis, 'pinned', { value: (globalThis.pinned || 0) + 1, configurable: false }); } catch (e) {}
  return { data: {
    calls: calls, closure: counter(), implicit: implicitGlobal, global: globalThis.viaGlobalThis,
    math: Math.stash || 0, proto: [].stash || 0, hidden: globalThis.hidden, pinned: globalThis.pinned,
  } };
}
