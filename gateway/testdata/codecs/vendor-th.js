// A temperature/humidity/battery decoder in the shape vendors ship for ChirpStack v4 and The Things
// Stack: decodeUplink(input) -> { data, warnings, errors }.
function decodeUplink(input) {
  var b = input.bytes;
  if (input.fPort !== 2) return { errors: ['unexpected fPort ' + input.fPort] };
  if (b.length < 5) return { errors: ['payload too short'] };
  var t = (b[0] << 8) | b[1];
  if (t & 0x8000) t -= 0x10000;
  return {
    data: { temperature_c: t / 100, humidity_pct: b[2] / 2, battery_v: ((b[3] << 8) | b[4]) / 1000 },
    warnings: b[2] > 200 ? ['humidity out of range'] : [],
  };
}
