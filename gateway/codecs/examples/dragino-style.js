// A codec in the style of Dragino's temperature/humidity nodes: values as toFixed() text, a status
// word, and the battery as text with a note when it runs low. Written for the tests.
function decodeUplink(input) {
  var bytes = input.bytes;
  var batV = ((bytes[0] << 8 | bytes[1]) & 0x3fff) / 1000;
  var temp = (bytes[2] << 24 >> 16 | bytes[3]) / 100;
  var hum = ((bytes[4] << 8 | bytes[5]) & 0xfff) / 10;
  var data = {
    BatV: batV < 2.5 ? batV.toFixed(1) + '(low battery)' : batV.toFixed(3),
    TempC_SHT: temp.toFixed(2),
    Hum_SHT: hum.toFixed(1),
    Ext_sensor: bytes[6] === 1 ? 'Temperature Sensor' : 'No external sensor',
    Node_type: 'LHT65',
  };
  return { data: data };
}
