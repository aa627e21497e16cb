// The size of each MQTT packet a broker sends, read from its fixed header as the bytes arrive
// (MQTT 3.1.1 section 2.2.3: a type byte, then the remaining length in one to four 7-bit groups).
// The client library's parser keeps a packet whole in memory until its last byte has come, up to
// the protocol's 256 MiB, before anything can look at it: whoever may publish to a topic the
// device subscribes to could fill the device's memory with one message. This reads ahead of the
// parser and names a packet too large as soon as its header says so.

export class IncomingPacketSizes {
  private inBody = 0;
  /** 0: at a type byte; 1..4: reading that many bytes of the remaining length */
  private lengthBytes = 0;
  private length = 0;
  /** the packet found too large: nothing after it can be followed (the connection ends there) */
  private over: number | null = null;

  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** Follows the bytes; returns the remaining length of a packet over the limit, from the moment its header shows it, else null. */
  feed(chunk: Uint8Array): number | null {
    if (this.over !== null) return this.over;
    let i = 0;
    while (i < chunk.length) {
      if (this.inBody > 0) {
        const n = Math.min(this.inBody, chunk.length - i);
        this.inBody -= n;
        i += n;
        continue;
      }
      const b = chunk[i++]!;
      if (this.lengthBytes === 0) {
        // the type byte; the remaining length follows
        this.lengthBytes = 1;
        this.length = 0;
        continue;
      }
      this.length += (b & 0x7f) * 128 ** (this.lengthBytes - 1);
      if (this.length > this.max) return (this.over = this.length);
      // a fifth length byte is malformed: the parser says so, and the connection ends there
      if ((b & 0x80) !== 0 && this.lengthBytes < 4) {
        this.lengthBytes++;
        continue;
      }
      this.lengthBytes = 0;
      this.inBody = this.length;
    }
    return null;
  }
}
