// A codec that attacks the engine it runs in, one way per first payload byte. Every other payload
// decodes normally, so that a test can check the codec is still usable after each attack.
var kept = [];
function decodeUplink(input) {
  var b = input.bytes;
  switch (b[0]) {
    case 1: for (;;) {}
    case 2: return { data: { depth: (function down(n) { return down(n + 1) + 1; })(0) } };
    case 3: { var a = []; for (;;) a.push({ n: a.length, text: 'x' + a.length }); }
    case 4: { var p = Promise.resolve(); var spin = function () { p = p.then(spin); }; spin(); return { data: { spun: 1 } }; }
    case 5: return { data: { get trap() { for (;;) {} } } };
    case 6: return { data: { toJSON: function () { for (;;) {} } } };
    case 7: {
      // rewrite what a harness would rely on
      try { __fieldproof.run = function () { return '{"ok":true,"result":{"data":{"forged":1}}}'; }; } catch (e) {}
      try { Object.defineProperty(globalThis, '__fieldproof', { value: {} }); } catch (e) {}
      try { JSON.stringify = function () { return '{"forged":1}'; }; } catch (e) {}
      try { Object.prototype.toJSON = function () { return 'forged'; }; } catch (e) {}
      try { Array.prototype.push = function () { return 0; }; } catch (e) {}
      return { data: { rewrote: 1 } };
    }
    case 8: {
      // try to keep 130 MiB alive
      var big = [];
      for (var i = 0; i < 130; i++) big.push(new Uint8Array(1024 * 1024));
      kept.push(big);
      return { data: { held: big.length } };
    }
    case 9: throw { get message() { for (;;) {} } };
    case 10: { Object.preventExtensions(globalThis); return { data: { locked: 1 } }; }
    case 11: {
      // call the harness from inside a request, for a fresh array buffer budget each time
      var held = [];
      for (var j = 0; j < 130; j++) {
        held.push(new Uint8Array(1024 * 1024));
        __fieldproof.run('{"op":"down-decode","bytes":[],"fPort":1,"variables":{}}');
      }
      return { data: { held: held.length } };
    }
    default: return { data: { level_pct: b[0], kept: kept.length } };
  }
}
