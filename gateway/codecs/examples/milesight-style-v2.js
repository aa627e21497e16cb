// A codec in the style Milesight still ships for The Things Network v2: Decoder(bytes, port) walks
// channel/type pairs and returns the decoded object itself. Encoder(object, port) sets the
// reporting interval. Written for the tests; the layout follows that family's public format.
function Decoder(bytes, port) {
  var decoded = {};
  for (var i = 0; i < bytes.length; ) {
    var channel_id = bytes[i++];
    var channel_type = bytes[i++];
    // BATTERY
    if (channel_id === 0x01 && channel_type === 0x75) {
      decoded.battery = bytes[i];
      i += 1;
    }
    // TEMPERATURE
    else if (channel_id === 0x03 && channel_type === 0x67) {
      decoded.temperature = readInt16LE(bytes.slice(i, i + 2)) / 10;
      i += 2;
    }
    // HUMIDITY
    else if (channel_id === 0x04 && channel_type === 0x68) {
      decoded.humidity = bytes[i] / 2;
      i += 1;
    }
    // DOOR
    else if (channel_id === 0x06 && channel_type === 0x00) {
      decoded.door = bytes[i] === 0 ? 'close' : 'open';
      i += 1;
    } else {
      break;
    }
  }
  return decoded;
}

function Encoder(object, port) {
  var s = object.interval_s;
  return [0xff, 0x03, s & 0xff, (s >> 8) & 0xff];
}

function readUInt16LE(bytes) {
  var value = (bytes[1] << 8) + bytes[0];
  return value & 0xffff;
}

function readInt16LE(bytes) {
  var ref = readUInt16LE(bytes);
  return ref > 0x7fff ? ref - 0x10000 : ref;
}
