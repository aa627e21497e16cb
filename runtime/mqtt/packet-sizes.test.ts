import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IncomingPacketSizes } from './packet-sizes.ts';

/** An MQTT packet: a type byte, the remaining length as 7-bit groups, the body. */
function packet(length: number): Buffer {
  const len: number[] = [];
  let x = length;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    len.push(b);
  } while (x > 0);
  return Buffer.concat([Buffer.from([0x30, ...len]), Buffer.alloc(length, 0xff)]);
}

test('follows packets of every length encoding in any split, and names the first over the limit from its header', () => {
  const fine = [0, 2, 127, 128, 16_383, 16_384, 100_000].map(packet);
  const stream = Buffer.concat([...fine, packet(300_000).subarray(0, 5)]);
  for (const piece of [1, 7, 4096, stream.length]) {
    const sizes = new IncomingPacketSizes(256 * 1024);
    const seen: (number | null)[] = [];
    for (let i = 0; i < stream.length; i += piece) seen.push(sizes.feed(stream.subarray(i, i + piece)));
    const first = seen.findIndex((s) => s !== null);
    assert.equal(seen[first], 300_000, `in pieces of ${piece}`);
    const lastHeaderByte = Buffer.concat(fine).length + 3; // type byte, three length bytes
    assert.ok(first * piece <= lastHeaderByte && lastHeaderByte < (first + 1) * piece, 'named in the piece that completes its header');
    assert.ok(seen.slice(first).every((s) => s === 300_000), 'and from then on');
  }
});
