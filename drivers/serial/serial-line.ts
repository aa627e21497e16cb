// One serial port that can go away and come back. A USB serial adapter that is unplugged closes the
// port under us; `open()` is then simply called again (by the poll scheduler's recovery) until the
// device node is back. Open failures become one-line ReadErrors naming the cause.
import { SerialPort } from 'serialport';
import { ReadError } from '../poll/errors.ts';

export interface SerialSettings {
  path: string;
  baudRate: number;
  dataBits?: 5 | 6 | 7 | 8;
  stopBits?: 1 | 2;
  parity?: 'none' | 'even' | 'odd';
}

/** Turn serialport's open errors into a sentence a technician can act on. */
export function describeOpenError(path: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/no such file|ENOENT/i.test(msg)) return `no serial port at ${path} (unplugged, or a wrong path?)`;
  if (/permission denied|EACCES/i.test(msg)) return `permission denied opening ${path} (add the user to the dialout group)`;
  if (/lock|busy|EBUSY/i.test(msg)) return `${path} is in use by another program`;
  if (/not a (tty|typewriter)|ENOTTY|inappropriate ioctl/i.test(msg)) return `${path} is not a serial port`;
  return `cannot open ${path}: ${msg.split('\n')[0]}`;
}

/** Ports the system knows of, for error messages. Without udev (containers) listing fails: then none. */
export async function listPorts(): Promise<string[]> {
  try {
    return (await SerialPort.list()).map((p) => p.path);
  } catch {
    return [];
  }
}

export class SerialLine {
  private port: SerialPort | undefined;
  private opening: Promise<void> | undefined;
  private closedBy: string | undefined;

  readonly settings: SerialSettings;
  /** every chunk received, in order, across reopens */
  private readonly onData: (chunk: Buffer) => void;
  /** the port went away (unplugged) rather than being closed by us */
  private readonly onLost: (reason: string) => void;

  constructor(
    settings: SerialSettings,
    onData: (chunk: Buffer) => void,
    onLost: (reason: string) => void = () => {},
  ) {
    this.settings = settings;
    this.onData = onData;
    this.onLost = onLost;
  }

  get path(): string {
    return this.settings.path;
  }

  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  /** Why the port is closed, when it went away by itself. */
  get lostReason(): string | undefined {
    return this.closedBy;
  }

  open(): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    this.opening ??= this.doOpen().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    await this.close();
    const { path, baudRate, dataBits = 8, stopBits = 1, parity = 'none' } = this.settings;
    const port = new SerialPort({ path, baudRate, dataBits, stopBits, parity, autoOpen: false });
    await new Promise<void>((resolve, reject) => {
      port.open((err) => (err ? reject(new ReadError(describeOpenError(path, err), 'port_unavailable')) : resolve()));
    });
    this.closedBy = undefined;
    port.on('data', this.onData);
    // errors after open are followed by 'close'; the listener keeps them from being unhandled
    port.on('error', () => {});
    port.once('close', (err?: Error & { disconnected?: boolean }) => {
      if (this.port !== port) return;
      this.port = undefined;
      this.closedBy = err?.disconnected ? `serial port ${path} disconnected` : `serial port ${path} closed`;
      this.onLost(this.closedBy);
    });
    this.port = port;
  }

  write(data: Buffer): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return Promise.reject(new ReadError(this.closedBy ?? `serial port ${this.path} is not open`, 'port_unavailable'));
    return new Promise((resolve, reject) => {
      port.write(data, (err) => (err ? reject(new ReadError(`write to ${this.path} failed: ${err.message}`, 'port_unavailable')) : resolve()));
    });
  }

  /** Drop what the OS has buffered in both directions (stale bytes after a timeout). */
  flush(): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return Promise.resolve();
    return new Promise((resolve) => port.flush(() => resolve()));
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (!port) return;
    port.removeAllListeners('data');
    if (!port.isOpen) return;
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
