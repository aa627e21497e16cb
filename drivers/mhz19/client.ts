// Request/response over one MH-Z19 serial line: one request in flight, the answer matched by its
// command byte, a timeout per request, and a clear reason when the answer was missing, cut short or
// garbled. Used by the driver, the probe and the calibration commands.
import { ReadError, TimeoutError } from '../poll/errors.ts';
import { SerialLine, type SerialSettings } from '../serial/serial-line.ts';
import { Mhz19FrameParser, type RejectReason } from './frame-parser.ts';
import {
  abcFrame,
  decodeCo2,
  GET_ABC,
  GET_RANGE,
  RANGES,
  READ_CO2,
  rangeFrame,
  spanCalibrationFrame,
  zeroCalibrationFrame,
  type Co2Response,
} from './protocol.ts';

/** After bytes arrive that are not the answer, this much silence means no answer is coming. */
const SETTLE_MS = 60;

export const MHZ19_SERIAL: Omit<SerialSettings, 'path'> = { baudRate: 9600, dataBits: 8, stopBits: 1, parity: 'none' };

interface Waiting {
  cmd: number;
  resolve(frame: Buffer): void;
  reject(err: Error): void;
  rejects: { noise: number; bad_checksum: number; truncated: number };
  otherFrames: number;
  bytes: number;
}

export class Mhz19Client {
  readonly line: SerialLine;
  private readonly parser: Mhz19FrameParser;
  private waiting: Waiting | undefined;
  // two timers made on first use and re-armed with refresh(): no timer objects per request. They are
  // never cleared (a cleared timer cannot be refreshed); one that fires with nothing waiting does nothing.
  private timeout: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  private busy: Promise<unknown> = Promise.resolve();

  private readonly timeoutMs: number;
  /** every rejected byte run, for metrics */
  private readonly onReject: (reason: RejectReason, bytes: number) => void;

  constructor(
    path: string,
    timeoutMs: number,
    onReject: (reason: RejectReason, bytes: number) => void = () => {},
    onLost?: (reason: string) => void,
  ) {
    this.timeoutMs = timeoutMs;
    this.onReject = onReject;
    this.parser = new Mhz19FrameParser((reason, bytes, command) => {
      // a bad checksum on a frame that claims to be some other answer is just garbage
      if (this.waiting) this.waiting.rejects[reason === 'bad_checksum' && command !== this.waiting.cmd ? 'noise' : reason] += bytes;
      this.onReject(reason, bytes);
    });
    this.parser.on('data', (frame: Buffer) => this.onFrame(frame));
    this.line = new SerialLine({ path, ...MHZ19_SERIAL }, (chunk) => this.onChunk(chunk), onLost);
  }

  private arm(kind: 'timeout' | 'settle'): void {
    const t = this[kind];
    if (t) t.refresh();
    else this[kind] = setTimeout(() => this.expire(kind === 'settle'), kind === 'settle' ? SETTLE_MS : this.timeoutMs).unref();
  }

  get path(): string {
    return this.line.path;
  }

  open(): Promise<void> {
    return this.line.open();
  }

  async close(): Promise<void> {
    this.finish(undefined, new ReadError(`serial port ${this.path} closed`, 'port_unavailable'));
    await this.line.close();
  }

  /** After a failed request: forget partial input and stale bytes in the OS buffers. */
  async resync(): Promise<void> {
    this.parser.reset();
    await this.line.flush();
  }

  private onChunk(chunk: Buffer): void {
    if (this.waiting) {
      this.waiting.bytes += chunk.length;
      this.arm('settle');
    }
    this.parser.write(chunk);
  }

  private onFrame(frame: Buffer): void {
    const w = this.waiting;
    if (!w) return;
    if (frame[1] === w.cmd) this.finish(frame);
    else w.otherFrames++;
  }

  private expire(settled: boolean): void {
    const w = this.waiting;
    if (!w) return;
    if (settled && w.rejects.noise + w.rejects.bad_checksum === 0 && w.otherFrames === 0) {
      // only part of a frame so far: a slow line may still deliver the rest before the timeout
      return;
    }
    const what = `MH-Z19 on ${this.path}`;
    let err: ReadError;
    if (w.rejects.bad_checksum > 0) err = new ReadError(`garbled answer from ${what}: bad checksum`, 'bad_checksum');
    else if (w.rejects.noise > 0) err = new ReadError(`garbled answer from ${what}: ${w.rejects.noise} bytes that are no frame`, 'garbled');
    else if (w.otherFrames > 0) err = new ReadError(`unexpected answer from ${what}: a frame for another command`, 'garbled');
    else if (w.bytes > 0) err = new ReadError(`truncated answer from ${what}: frame cut short`, 'truncated');
    else err = new TimeoutError(`no answer from ${what} within ${this.timeoutMs} ms`);
    this.finish(undefined, err);
    this.parser.reset();
  }

  private finish(frame?: Buffer, err?: Error): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = undefined;
    if (frame) w.resolve(frame);
    else w.reject(err!);
  }

  /** Send a request and wait for the response with the same command byte. */
  request(frame: Buffer): Promise<Buffer> {
    const run = () =>
      new Promise<Buffer>((resolve, reject) => {
        this.waiting = { cmd: frame[2]!, resolve, reject, rejects: { noise: 0, bad_checksum: 0, truncated: 0 }, otherFrames: 0, bytes: 0 };
        this.arm('timeout');
        this.line.write(frame).catch((err: Error) => this.finish(undefined, err));
      });
    const p = this.busy.then(run, run);
    this.busy = p.catch(() => {});
    return p;
  }

  /** Send a command the sensor may or may not acknowledge (0x87, 0x88, 0x79 on most firmware). */
  async command(frame: Buffer): Promise<'acknowledged' | 'sent'> {
    try {
      await this.request(frame);
      return 'acknowledged';
    } catch (err) {
      if (err instanceof TimeoutError) return 'sent';
      throw err;
    }
  }

  async readCo2(): Promise<Co2Response> {
    return decodeCo2(await this.request(READ_CO2));
  }

  async getRange(): Promise<number> {
    const f = await this.request(GET_RANGE);
    return f[4]! * 256 + f[5]!;
  }

  async getAbc(): Promise<boolean> {
    const f = await this.request(GET_ABC);
    return f[7] !== 0;
  }

  calibrateZero(): Promise<'acknowledged' | 'sent'> {
    return this.command(zeroCalibrationFrame());
  }

  async calibrateSpan(ppm: number): Promise<'acknowledged' | 'sent'> {
    if (!Number.isInteger(ppm) || ppm < 1000 || ppm > 10000) throw new ReadError(`span must be an integer ppm in 1000..10000, got ${ppm}`, 'bad_value', false);
    return this.command(spanCalibrationFrame(ppm));
  }

  setAbc(on: boolean): Promise<'acknowledged' | 'sent'> {
    return this.command(abcFrame(on));
  }

  async setRange(ppm: number): Promise<'acknowledged' | 'sent'> {
    if (!(RANGES as readonly number[]).includes(ppm)) throw new ReadError(`range must be one of ${RANGES.join(', ')} ppm, got ${ppm}`, 'bad_value', false);
    return this.command(rangeFrame(ppm));
  }
}

