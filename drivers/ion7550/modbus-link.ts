// One Modbus connection (TCP, or RTU on a serial port) through modbus-serial, with the failures a
// field technician meets turned into one-line ReadErrors: refused or unreachable host, missing serial
// port, no answer, a Modbus exception, a garbled frame. Requests are serialised: RTU is half duplex,
// and one request at a time also keeps a TCP gateway's queue short.
import modbusSerial from 'modbus-serial';
import type { ModbusRTU as ModbusClient } from 'modbus-serial/ModbusRTU.js';
import { ReadError, TimeoutError } from '../poll/errors.ts';
import { describeOpenError } from '../serial/serial-line.ts';

export type ModbusTarget =
  | { transport: 'tcp'; host: string; port: number }
  | { transport: 'rtu'; path: string; baudRate: number; parity: 'none' | 'even' | 'odd'; stopBits: 1 | 2 };

export function describeTarget(t: ModbusTarget): string {
  return t.transport === 'tcp' ? `${t.host}:${t.port}` : t.path;
}

// modbus-serial is CommonJS: its module.exports is the client class, which NodeNext typings see as
// the namespace's `default` member.
const ModbusRTU = modbusSerial as unknown as typeof ModbusClient;

/** Modbus exception codes (Modbus application protocol 1.1b3, section 7). */
export const EXCEPTIONS: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address (register not in the meter map)',
  3: 'illegal data value (count out of range)',
  4: 'server device failure',
  5: 'acknowledge (request accepted, still processing)',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

/** Exceptions that may clear by themselves; the others answer the same every time. */
const TRANSIENT_EXCEPTIONS = new Set([4, 5, 6, 10, 11]);

/**
 * Links in use by serial path: several meters on one RS-485 bus share one port (it can be opened
 * only once) and take turns on it. TCP targets get a link per driver.
 */
const sharedRtu = new Map<string, { link: ModbusLink; users: number }>();

export function acquireLink(target: ModbusTarget, timeoutMs: number): ModbusLink {
  if (target.transport === 'tcp') return new ModbusLink(target, timeoutMs);
  const entry = sharedRtu.get(target.path);
  if (entry) {
    entry.users++;
    return entry.link;
  }
  const link = new ModbusLink(target, timeoutMs);
  sharedRtu.set(target.path, { link, users: 1 });
  return link;
}

/** Give a link back; the port closes when its last user is done. */
export async function releaseLink(link: ModbusLink): Promise<void> {
  const t = link.target;
  if (t.transport === 'rtu') {
    const entry = sharedRtu.get(t.path);
    if (entry && entry.link === link && --entry.users > 0) return;
    if (entry?.link === link) sharedRtu.delete(t.path);
  }
  await link.close();
}

export class ModbusLink {
  private client: ModbusClient | undefined;
  private connecting: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  readonly target: ModbusTarget;
  private readonly timeoutMs: number;

  constructor(
    target: ModbusTarget,
    timeoutMs: number,
  ) {
    this.target = target;
    this.timeoutMs = timeoutMs;
  }

  get where(): string {
    return describeTarget(this.target);
  }

  get isOpen(): boolean {
    return this.client?.isOpen === true;
  }

  connect(): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    this.connecting ??= this.doConnect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    await this.close();
    const client = new ModbusRTU();
    // modbus-serial re-emits port errors (EIO when an adapter is unplugged) on the client; without a
    // listener they would end the process. Drop the client: the next request reconnects.
    client.on('error', () => {
      if (this.client !== client) return;
      this.client = undefined;
      try {
        client.close(() => {});
      } catch {
        // already closed
      }
    });
    const t = this.target;
    try {
      if (t.transport === 'tcp') await client.connectTCP(t.host, { port: t.port, timeout: this.timeoutMs });
      else await client.connectRTUBuffered(t.path, { baudRate: t.baudRate, parity: t.parity, dataBits: 8, stopBits: t.stopBits });
    } catch (err) {
      try {
        client.close(() => {});
      } catch {
        // nothing was open
      }
      throw this.connectError(err);
    }
    client.setTimeout(this.timeoutMs);
    this.client = client;
  }

  private connectError(err: unknown): ReadError {
    const e = err as NodeJS.ErrnoException & { message?: string };
    const t = this.target;
    if (t.transport === 'rtu') return new ReadError(describeOpenError(t.path, err), 'port_unavailable');
    const code = e?.code ?? '';
    const where = `${t.host}:${t.port}`;
    if (code === 'ECONNREFUSED') return new ReadError(`connection to ${where} refused (is it a Modbus TCP device, port 502?)`, 'port_unavailable');
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ReadError(`host ${t.host} not found`, 'port_unavailable');
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new ReadError(`${where} unreachable`, 'port_unavailable');
    if (/timed out/i.test(e?.message ?? '')) return new ReadError(`no connection to ${where} within ${this.timeoutMs} ms`, 'port_unavailable');
    return new ReadError(`cannot connect to ${where}: ${code || (e?.message ?? String(err)).split('\n')[0]}`, 'port_unavailable');
  }

  /** FC 03 read of `count` holding registers from PDU address `address`; the raw response bytes. */
  readHolding(unit: number, address: number, count: number): Promise<Buffer> {
    const run = async () => {
      if (!this.isOpen) await this.connect();
      const client = this.client!;
      client.setID(unit);
      let data: Buffer;
      try {
        data = (await client.readHoldingRegisters(address, count)).buffer;
      } catch (err) {
        throw this.readError(err, unit, address, count);
      }
      // modbus-serial checks the frame's length but takes the byte count inside it on trust: an
      // answer that says it carries fewer (or more) bytes than were asked for is no answer to this
      // request, and none of its registers can be told from the ones asked for.
      if (data.length !== count * 2) {
        throw new ReadError(`garbled answer from unit ${unit} at ${this.where}: ${data.length} data bytes for ${count} registers`, 'garbled');
      }
      return data;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  private readError(err: unknown, unit: number, address: number, count: number): ReadError {
    const e = err as Error & { modbusCode?: number; errno?: string; name?: string };
    const regs = `registers ${40001 + address}..${40001 + address + count - 1}`;
    if (typeof e?.modbusCode === 'number') {
      const code = e.modbusCode;
      return new ReadError(`Modbus exception ${code} (${EXCEPTIONS[code] ?? 'unknown'}) from unit ${unit} at ${this.where} reading ${regs}`, 'modbus_exception', TRANSIENT_EXCEPTIONS.has(code));
    }
    // modbus-serial reads as many registers as the answer's byte count says, past the frame's end
    if ((e as NodeJS.ErrnoException)?.code === 'ERR_OUT_OF_RANGE') return new ReadError(`garbled answer from unit ${unit} at ${this.where}: its byte count runs past the end of the frame`, 'garbled');
    if (e?.name === 'TransactionTimedOutError') return new TimeoutError(`no answer from unit ${unit} at ${this.where} within ${this.timeoutMs} ms`);
    const msg = (e?.message ?? String(err)).split('\n')[0]!;
    if (/port not open/i.test(msg)) return new ReadError(`connection to ${this.where} lost`, 'port_unavailable');
    if (/crc/i.test(msg)) return new ReadError(`garbled answer from unit ${unit} at ${this.where}: CRC error`, 'bad_checksum');
    if (/length|unexpected|unit|function/i.test(msg)) return new ReadError(`garbled answer from unit ${unit} at ${this.where}: ${msg}`, 'garbled');
    return new ReadError(`reading ${regs} from unit ${unit} at ${this.where} failed: ${msg}`, 'read_failed');
  }

  /** Close and connect again, in turn with the requests of other users of the link. */
  reconnect(): Promise<void> {
    const run = async () => {
      await this.close();
      await this.connect();
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await new Promise<void>((resolve) => {
      try {
        if (client.isOpen) client.close(() => resolve());
        else resolve();
      } catch {
        resolve();
      }
    });
  }
}
