// An example vendor codec in the ChirpStack v4 / The Things Stack shape: temperature (0.01 degC,
// signed), relative humidity (0.5 %) and battery (mV) on fPort 2.
function decodeUplink(input) {
  var b = input.bytes;
  if (input.fPort !== 2) return { errors: ['unexpected fPort ' + input.fPort] };
  if (b.length < 5) return { errors: ['payload too short: ' + b.length + ' bytes'] };
  var t = (b[0] << 8) | b[1];
  if (t & 0x8000) t -= 0x10000;
  return {
    data: { temperature_c: t / 100, humidity_pct: b[2] / 2, battery_v: ((b[3] << 8) | b[4]) / 1000 },
    warnings: b[2] > 200 ? ['humidity above 100 %'] : [],
  };
}
