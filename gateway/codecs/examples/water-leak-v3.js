// A water-leak sensor codec in ChirpStack v3's shape, Decode(fPort, bytes, variables): the leak
// state as a word, the battery in volts, and an alarm level taken from the device's variables.
// Written for the tests.
function Decode(fPort, bytes, variables) {
  var level = Number(variables.alarmLevel || 1);
  return {
    leak: bytes[0] >= level ? 'LEAK' : 'NoLeak',
    leak_count: bytes[1],
    battery_v: bytes[2] / 10,
    tamper: bytes[3] === 1,
  };
}
