// A codec in the style of decentlab's: every value an object with its display name, unit and
// value. Written for the tests.
var decentlab_decoder = {
  PROTOCOL_VERSION: 2,
  SENSORS: [
    { length: 2, values: [
      { name: 'air_temperature', displayName: 'Air temperature', convert: function (x) { return 175 * x[0] / 65535 - 45; }, unit: '°C' },
      { name: 'air_humidity', displayName: 'Air humidity', convert: function (x) { return 100 * x[1] / 65535; }, unit: '%' },
    ] },
    { length: 1, values: [
      { name: 'battery_voltage', displayName: 'Battery voltage', convert: function (x) { return x[0] / 1000; }, unit: 'V' },
    ] },
  ],
  decode: function (bytes) {
    if (bytes[0] !== this.PROTOCOL_VERSION) return { error: 'protocol version ' + bytes[0] + ' does not match v' + this.PROTOCOL_VERSION };
    var flags = (bytes[3] << 8) | bytes[4];
    var result = { device_id: (bytes[1] << 8) | bytes[2], protocol_version: bytes[0] };
    var k = 5;
    for (var i = 0; i < this.SENSORS.length; i++, flags >>= 1) {
      if ((flags & 1) !== 1) continue;
      var sensor = this.SENSORS[i];
      var x = [];
      for (var j = 0; j < sensor.length; j++) { x.push((bytes[k] << 8) | bytes[k + 1]); k += 2; }
      for (var v = 0; v < sensor.values.length; v++) {
        var value = sensor.values[v];
        result[value.name] = { displayName: value.displayName, unit: value.unit, value: value.convert.bind(this)(x) };
      }
    }
    return result;
  },
};

function decodeUplink(input) {
  var res = decentlab_decoder.decode(input.bytes);
  if (res.error) return { errors: [res.error] };
  return { data: res };
}
