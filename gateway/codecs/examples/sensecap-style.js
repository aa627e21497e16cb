// A codec in the style of SenseCAP's: measurements as an array of {measurementId, measurementValue,
// type}, and a normalizeUplink that gives the standard quantities. encodeDownlink and
// decodeDownlink set and read the reporting interval. Written for the tests.
var MEASUREMENTS = { 4097: 'Air Temperature', 4098: 'Air Humidity', 4100: 'CO2' };

function decodeUplink(input) {
  var bytes = input.bytes;
  var messages = [];
  for (var i = 0; i + 6 <= bytes.length; i += 6) {
    var id = bytes[i] | (bytes[i + 1] << 8);
    var raw = bytes[i + 2] | (bytes[i + 3] << 8) | (bytes[i + 4] << 16) | (bytes[i + 5] << 24);
    if (!MEASUREMENTS[id]) return { errors: ['unknown measurement id ' + id] };
    messages.push({ measurementId: String(id), measurementValue: raw / 1000, type: MEASUREMENTS[id] });
  }
  return { data: { valid: true, messages: [messages] } };
}

function normalizeUplink(input) {
  var air = {};
  input.data.messages[0].forEach(function (m) {
    if (m.measurementId === '4097') air.temperature = m.measurementValue;
    if (m.measurementId === '4098') air.relativeHumidity = m.measurementValue;
    if (m.measurementId === '4100') air.co2 = m.measurementValue;
  });
  return { data: { air: air } };
}

function encodeDownlink(input) {
  var s = input.data.interval_min;
  if (typeof s !== 'number' || s < 1 || s > 1440) return { errors: ['interval_min must be 1..1440'] };
  return { bytes: [0x8e, 0x00, (s >> 8) & 0xff, s & 0xff], fPort: 2, warnings: [] };
}

function decodeDownlink(input) {
  return { data: { interval_min: (input.bytes[2] << 8) | input.bytes[3] } };
}
