// Cuts a byte stream from an MH-Z19 into checked 9-byte frames. A serial line delivers frames in any
// split, with noise between them after a brown-out or a loose wire: the scanner looks for the 0xFF
// start byte, waits for 9 bytes, and if the checksum does not match drops only that start byte and
// searches again, so a frame hidden behind a stray 0xFF is still found.
import { Transform, type TransformCallback } from 'node:stream';
import { checksumValid, FRAME_LENGTH, START } from './protocol.ts';

export type RejectReason = 'noise' | 'bad_checksum' | 'truncated';

/** The synchronous core: feed bytes, get frames through the callback. */
export class Mhz19FrameScanner {
  /** bytes of a frame not yet complete; fixed size, reused */
  private readonly pending = Buffer.alloc(FRAME_LENGTH);
  private length = 0;

  private readonly onFrame: (frame: Buffer) => void;
  /** `command` is the second byte of a frame rejected for its checksum: which answer it claimed to be */
  private readonly onReject: (reason: RejectReason, bytes: number, command?: number) => void;

  constructor(
    onFrame: (frame: Buffer) => void,
    onReject: (reason: RejectReason, bytes: number, command?: number) => void = () => {},
  ) {
    this.onFrame = onFrame;
    this.onReject = onReject;
  }

  /** bytes of an incomplete frame held */
  get partial(): number {
    return this.length;
  }

  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.length === 0) {
        // skip noise up to the next start byte in one go
        let j = i;
        while (j < chunk.length && chunk[j] !== START) j++;
        if (j > i) this.onReject('noise', j - i);
        i = j;
        if (i >= chunk.length) break;
      }
      const take = Math.min(FRAME_LENGTH - this.length, chunk.length - i);
      this.pending.set(chunk.subarray(i, i + take), this.length);
      this.length += take;
      i += take;
      if (this.length === FRAME_LENGTH) this.check();
    }
  }

  /** A full frame is pending: hand it out, or drop its start byte and rescan what follows. */
  private check(): void {
    while (this.length === FRAME_LENGTH) {
      if (checksumValid(this.pending)) {
        this.length = 0;
        this.onFrame(Buffer.from(this.pending));
        return;
      }
      this.onReject('bad_checksum', 1, this.pending[1]);
      // resynchronise: the next 0xFF inside the rejected bytes may start the real frame
      let next = 1;
      while (next < FRAME_LENGTH && this.pending[next] !== START) next++;
      if (next > 1) this.onReject('noise', next - 1);
      this.pending.copyWithin(0, next, FRAME_LENGTH);
      this.length = FRAME_LENGTH - next;
    }
  }

  /** Forget a partial frame (after a timeout: what is left will never be completed). */
  reset(): void {
    if (this.length > 0) this.onReject('truncated', this.length);
    this.length = 0;
  }
}

/** The scanner as a Transform stream: bytes in, checked 9-byte frames (Buffers) out, in object mode. */
export class Mhz19FrameParser extends Transform {
  private readonly scanner: Mhz19FrameScanner;

  constructor(onReject?: (reason: RejectReason, bytes: number, command?: number) => void) {
    super({ readableObjectMode: true });
    this.scanner = new Mhz19FrameScanner((frame) => this.push(frame), onReject);
  }

  get partial(): number {
    return this.scanner.partial;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.scanner.feed(chunk);
    done();
  }

  reset(): void {
    this.scanner.reset();
  }

  override _flush(done: TransformCallback): void {
    this.scanner.reset();
    done();
  }
}
