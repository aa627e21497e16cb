// A simulated MH-Z19B on the far end of a real serial line (one end of a socat pty pair). It speaks
// the UART protocol byte for byte and, on demand, misbehaves the way real sensors and wiring do:
// bad checksums, frames cut short, line noise, silence, slow answers. Tests, the demo and the
// benchmarks use it; it is a simulator, not a model of the sensor's optics.
import { SerialPort } from 'serialport';
import { Mhz19FrameParser, Mhz19FrameScanner } from './frame-parser.ts';
import { CMD, FRAME_LENGTH, writeResponse } from './protocol.ts';

export type Mhz19Fault =
  | 'none'
  /** the right frame with a wrong checksum */
  | 'bad_checksum'
  /** only the first bytes of the frame */
  | 'truncated'
  /** random bytes (some 0xFF) before a good frame: the driver must resynchronise */
  | 'noise'
  /** random bytes and no frame at all */
  | 'garbage'
  /** no answer */
  | 'silence'
  /** a good frame in three pieces with pauses, as a busy USB adapter delivers it */
  | 'split';

export interface Mhz19SimulatorOptions {
  /** the pty end (or real port) the simulator opens */
  path: string;
  /** CO2 the air "has"; a function for a changing signal */
  co2Ppm?: number | ((now: number) => number);
  temperatureC?: number;
  /** after start, answer with the fixed warm-up value for this long */
  warmupMs?: number;
  rangePpm?: number;
  abc?: boolean;
  /** delay before every answer */
  responseDelayMs?: number;
}

/** What the MH-Z19B reports while its lamp heats up. */
export const WARMUP_PPM = 500;

export class Mhz19Simulator {
  private port: SerialPort | undefined;
  private parser: Mhz19FrameParser | undefined;
  private fault: Mhz19Fault = 'none';
  private faultCount = Infinity;
  private startedAt = 0;
  private zeroOffset = 0;
  private spanFactor = 1;
  private readonly out = Buffer.alloc(FRAME_LENGTH);
  private readonly timers = new Set<NodeJS.Timeout>();
  /** command bytes received, in order (tests check what the driver sent) */
  readonly received: number[] = [];
  rangePpm: number;
  abc: boolean;
  temperatureC: number;
  responseDelayMs: number;

  private readonly opts: Mhz19SimulatorOptions;

  constructor(opts: Mhz19SimulatorOptions) {
    this.opts = opts;
    this.rangePpm = opts.rangePpm ?? 5000;
    this.abc = opts.abc ?? true;
    this.temperatureC = opts.temperatureC ?? 23;
    this.responseDelayMs = opts.responseDelayMs ?? 0;
  }

  async start(): Promise<void> {
    const port = new SerialPort({ path: this.opts.path, baudRate: 9600, dataBits: 8, stopBits: 1, parity: 'none', autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    const parser = new Mhz19FrameParser();
    parser.on('data', (frame: Buffer) => this.onRequest(frame));
    port.on('data', (chunk: Buffer) => parser.write(chunk));
    port.on('error', () => {});
    this.port = port;
    this.parser = parser;
    this.startedAt = Date.now();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const port = this.port;
    this.port = undefined;
    this.parser?.destroy();
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Misbehave from now on, or for the next `count` answers only. */
  setFault(fault: Mhz19Fault, count = Infinity): void {
    this.fault = fault;
    this.faultCount = count;
  }

  /** The CO2 the sensor reports now, after calibration and range clipping. */
  currentPpm(now = Date.now()): number {
    if (this.opts.warmupMs && now - this.startedAt < this.opts.warmupMs) return WARMUP_PPM;
    const air = typeof this.opts.co2Ppm === 'function' ? this.opts.co2Ppm(now) : (this.opts.co2Ppm ?? 450);
    const reported = Math.round(air * this.spanFactor + this.zeroOffset);
    return Math.max(0, Math.min(this.rangePpm, reported));
  }

  private onRequest(frame: Buffer): void {
    const cmd = frame[2]!;
    this.received.push(cmd);
    if (this.received.length > 10_000) this.received.splice(0, 5_000);
    let answer: number[] | null = null;
    switch (cmd) {
      case CMD.readCo2: {
        const ppm = this.currentPpm();
        answer = [ppm >> 8, ppm & 0xff, this.temperatureC + 40, 0, 0, 0];
        break;
      }
      case CMD.calibrateZero:
        // the air is taken to be 400 ppm from now on
        this.zeroOffset += 400 - this.currentPpm();
        break;
      case CMD.calibrateSpan: {
        const span = frame[3]! * 256 + frame[4]!;
        const now = this.currentPpm();
        if (now > 400) this.spanFactor *= (span - 400) / (now - 400);
        break;
      }
      case CMD.setAbc:
        this.abc = frame[3] !== 0;
        break;
      case CMD.setRange: {
        const r = frame[6]! * 256 + frame[7]!;
        if (r > 0) this.rangePpm = r;
        answer = [0x01, 0, 0, 0, 0, 0];
        break;
      }
      case CMD.getRange:
        answer = [0, 0, this.rangePpm >> 8, this.rangePpm & 0xff, 0, 0];
        break;
      case CMD.getAbc:
        answer = [0, 0, 0, 0, 0, this.abc ? 1 : 0];
        break;
      default:
        return; // unknown commands get no answer, as on the real sensor
    }
    if (!answer) return;
    const response = Buffer.from(writeResponse(this.out, cmd, answer));
    if (this.responseDelayMs > 0) this.later(this.responseDelayMs, () => this.answer(response));
    else this.answer(response);
  }

  private answer(frame: Buffer): void {
    const port = this.port;
    if (!port) return;
    let fault = this.fault;
    if (fault !== 'none' && --this.faultCount <= 0) {
      this.fault = 'none';
      this.faultCount = Infinity;
    }
    switch (fault) {
      case 'none':
        port.write(frame);
        return;
      case 'bad_checksum':
        frame[8] = (frame[8]! + 1) & 0xff;
        port.write(frame);
        return;
      case 'truncated':
        port.write(frame.subarray(0, 5));
        return;
      case 'noise':
        port.write(Buffer.concat([junk(7, frame), frame]));
        return;
      case 'garbage':
        port.write(junk(12));
        return;
      case 'silence':
        return;
      case 'split':
        port.write(frame.subarray(0, 2));
        this.later(15, () => this.port?.write(frame.subarray(2, 6)));
        this.later(30, () => this.port?.write(frame.subarray(6)));
        return;
    }
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

/** Line noise: random bytes with stray start bytes among them. Drawn again until, followed by `frame`,
 * exactly that frame comes out of a parser (a random run may by chance hold a valid frame; a test
 * that injects noise wants to know what the driver should see). */
function junk(n: number, frame?: Buffer): Buffer {
  for (;;) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.random() < 0.2 ? 0xff : Math.floor(Math.random() * 256);
    b[0] = 0xff;
    const frames: Buffer[] = [];
    new Mhz19FrameScanner((f) => frames.push(f)).feed(frame ? Buffer.concat([b, frame]) : b);
    if (frame ? frames.length === 1 && frames[0]!.equals(frame) : frames.length === 0) return b;
  }
}
