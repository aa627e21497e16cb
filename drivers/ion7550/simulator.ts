// A simulated Schneider ION7550 power meter: a Modbus TCP server and/or a Modbus RTU slave on one end
// of a serial line (a socat pty pair). It holds the factory register map, with voltages, currents and
// power following the export and import powers it is given, and exported and imported energy
// registers that advance with them exactly (simulated-energy.ts), on the wall clock or a clock the
// test drives. On demand it answers with exceptions, stays silent, drops the connection, garbles the
// CRC or the byte count, resets or replaces its registers, or shows a glitched value.
// It is a simulator for tests, the demo and the benchmarks, not a model of the meter's firmware.
import { createServer, type Server, type Socket } from 'node:net';
import { SerialPort } from 'serialport';
import { crc16, exceptionPdu, FC_READ_HOLDING, rtuFrame, rtuRequestLength, tcpFrame } from './modbus-frames.ts';
import { FACTORY_MAP, type RegisterEntry } from './register-map.ts';
import { MeterEnergy, type PowerSource } from './simulated-energy.ts';

export type Ion7550Fault =
  | { kind: 'none' }
  /** answer every read with this Modbus exception code */
  | { kind: 'exception'; code: number }
  /** read the request and never answer */
  | { kind: 'silence' }
  /** close the TCP connection when a request arrives (RTU: same as silence) */
  | { kind: 'drop' }
  /** answer with a wrong CRC (RTU) */
  | { kind: 'bad_crc' }
  /** answer after this delay */
  | { kind: 'slow'; delayMs: number }
  /** answer a frame of the right length whose byte count says `byteCount` */
  | { kind: 'bad_byte_count'; byteCount: number };

export interface Ion7550SimulatorOptions {
  /** Modbus unit id the meter answers to */
  unitId?: number;
  /** start a TCP server on this host and port (port 0: any free port) */
  tcp?: { host?: string; port?: number };
  /** attach an RTU slave to this serial path */
  rtu?: { path: string; baudRate?: number };
  /** exported active power in kW; a function of time for a changing load */
  powerKw?: PowerSource;
  /** imported active power in kW (energy_received_kwh advances with it) */
  importKw?: PowerSource;
  /** initial value of the kWh-delivered (exported) counter */
  energyKwh?: number;
  /** initial value of the kWh-received (imported) counter */
  importEnergyKwh?: number;
  /** the meter's own rollover setting for both energy registers, kWh */
  rolloverKwh?: number;
  /** the meter's clock (default Date.now): a test that drives it gets exact energies */
  clock?: () => number;
  /** the register map the meter serves (what its Modbus Slave modules are set to) */
  map?: readonly RegisterEntry[];
  /** registers that exist (PDU addresses, inclusive); reads outside get exception 2 */
  implemented?: { from: number; to: number };
}

const FACTORY_RANGE = { from: 149, to: 276 };

export class Ion7550Simulator {
  readonly unitId: number;
  private readonly registers = new Uint16Array(65536);
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private serial: SerialPort | undefined;
  private rtuBuffer: Buffer = Buffer.alloc(0);
  private fault: Ion7550Fault = { kind: 'none' };
  private faultCount = Infinity;
  private readonly energy: MeterEnergy;
  private readonly clock: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** requests served, for tests and benchmarks */
  requests = 0;

  private readonly opts: Ion7550SimulatorOptions;

  constructor(opts: Ion7550SimulatorOptions) {
    this.opts = opts;
    this.unitId = opts.unitId ?? 1;
    this.clock = opts.clock ?? Date.now;
    this.energy = new MeterEnergy({
      exportKw: opts.powerKw ?? 42.5, importKw: opts.importKw ?? 0, exportKwh: opts.energyKwh ?? 12_345.678, importKwh: opts.importEnergyKwh ?? 0,
      ...(opts.rolloverKwh !== undefined ? { rolloverKwh: opts.rolloverKwh } : {}),
    });
  }

  /** The TCP port the server listens on (after start). */
  get tcpPort(): number {
    const a = this.server?.address();
    if (!a || typeof a === 'string') throw new Error('the simulator has no TCP server');
    return a.port;
  }

  async start(): Promise<void> {
    this.update(this.clock());
    if (this.opts.tcp) {
      const server = createServer((socket) => this.onTcpConnection(socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.opts.tcp!.port ?? 0, this.opts.tcp!.host ?? '127.0.0.1', () => resolve());
      });
      this.server = server;
    }
    if (this.opts.rtu) {
      const port = new SerialPort({ path: this.opts.rtu.path, baudRate: this.opts.rtu.baudRate ?? 19200, autoOpen: false });
      await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
      port.on('data', (chunk: Buffer) => this.onRtuData(chunk));
      port.on('error', () => {});
      this.serial = port;
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    const serial = this.serial;
    this.serial = undefined;
    if (serial?.isOpen) await new Promise<void>((resolve) => serial.close(() => resolve()));
  }

  /** Misbehave from now on, or for the next `count` requests only. */
  setFault(fault: Ion7550Fault, count = Infinity): void {
    this.fault = fault;
    this.faultCount = count;
  }

  /** Set the kWh-delivered (exported) counter (a meter reset, or a value near its rollover). */
  setEnergyKwh(kwh: number): void {
    this.energy.set('export', kwh, this.clock());
    this.update(this.clock());
  }

  /** Set the kWh-received (imported) counter. */
  setImportKwh(kwh: number): void {
    this.energy.set('import', kwh, this.clock());
    this.update(this.clock());
  }

  /** A new meter in place of this one: both registers start again from the new meter's values. */
  replaceMeter(exportKwh: number, importKwh: number): void {
    this.energy.set('export', exportKwh, this.clock());
    this.energy.set('import', importKwh, this.clock());
    this.update(this.clock());
  }

  /** The next `reads` reads of a register show `kwh` (a glitch the driver may flag). */
  glitch(which: 'export' | 'import', kwh: number, reads = 1): void {
    this.energy.glitch(which, kwh, reads);
  }

  /** The meter's internal exported counter, kWh (fractional: the register shows whole counts). */
  get energyKwh(): number {
    return this.energy.kwh('export');
  }

  get importKwh(): number {
    return this.energy.kwh('import');
  }

  /** Write a raw value into the registers of an entry (tests of custom maps). */
  setRaw(register: number, type: RegisterEntry['type'], raw: number): void {
    const a = register - 40001;
    switch (type) {
      case 'uint16':
      case 'int16':
        this.registers[a] = raw & 0xffff;
        break;
      case 'uint32':
      case 'int32':
        this.registers[a] = (raw >>> 16) & 0xffff;
        this.registers[a + 1] = raw & 0xffff;
        break;
      case 'm10k':
        this.registers[a] = Math.floor(raw / 10_000);
        this.registers[a + 1] = raw % 10_000;
        break;
      case 'float32': {
        const b = Buffer.alloc(4);
        b.writeFloatBE(raw);
        this.registers[a] = b.readUInt16BE(0);
        this.registers[a + 1] = b.readUInt16BE(2);
        break;
      }
    }
  }

  /** Advance the energy counters and refresh the measurements. */
  private update(now: number): void {
    this.energy.advance(now);
    const kw = this.energy.exportKw(now) - this.energy.importKw(now);
    const vln = 230.1;
    const amps = (kw * 1000) / (3 * vln * 0.98);
    const values: Record<string, number> = {
      current_a_a: amps,
      current_b_a: amps * 1.01,
      current_c_a: amps * 0.99,
      current_avg_a: amps,
      frequency_hz: 50,
      voltage_an_v: vln,
      voltage_bn_v: vln + 0.4,
      voltage_cn_v: vln - 0.3,
      voltage_ln_avg_v: vln,
      voltage_ll_avg_v: vln * Math.sqrt(3),
      power_kw: kw,
      reactive_power_kvar: kw * 0.2,
      apparent_power_kva: kw / 0.98,
      energy_delivered_kwh: 0,
      energy_received_kwh: 0,
      power_factor: 0.98,
    };
    for (const e of this.opts.map ?? FACTORY_MAP) {
      const v = values[e.metric];
      if (v === undefined) continue;
      const which = e.metric === 'energy_delivered_kwh' ? 'export' : e.metric === 'energy_received_kwh' ? 'import' : null;
      const raw = which ? this.energy.registerRaw(which, e.scale * (e.unit === 'Wh' ? 0.001 : 1)) : Math.round(v / e.scale);
      // | 0: a 32-bit register holds the low 32 bits, so a signed counter past its top reads negative
      this.setRaw(e.register, e.type, raw | 0);
    }
  }

  /** The response PDU to a request PDU, or null for no answer at all. */
  private handle(pdu: Buffer): Buffer | null {
    this.requests++;
    const fc = pdu[0]!;
    const fault = this.fault;
    if (fault.kind !== 'none' && --this.faultCount <= 0) {
      this.fault = { kind: 'none' };
      this.faultCount = Infinity;
    }
    if (fault.kind === 'exception') return exceptionPdu(fc, fault.code);
    if (fc !== FC_READ_HOLDING) return exceptionPdu(fc, 1);
    if (pdu.length < 5) return exceptionPdu(fc, 3);
    const address = pdu.readUInt16BE(1);
    const count = pdu.readUInt16BE(3);
    if (count < 1 || count > 125) return exceptionPdu(fc, 3);
    const range = this.opts.implemented ?? FACTORY_RANGE;
    if (address < range.from || address + count - 1 > range.to) return exceptionPdu(fc, 2);
    this.update(this.clock());
    const out = Buffer.alloc(2 + count * 2);
    out[0] = fc;
    out[1] = fault.kind === 'bad_byte_count' ? fault.byteCount : count * 2;
    for (let i = 0; i < count; i++) out.writeUInt16BE(this.registers[address + i]!, 2 + i * 2);
    return out;
  }

  private currentFault(): Ion7550Fault {
    return this.fault;
  }

  private onTcpConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 7) {
        const length = buf.readUInt16BE(4);
        if (buf.length < 6 + length) return;
        const transaction = buf.readUInt16BE(0);
        const unit = buf[6]!;
        const pdu = buf.subarray(7, 6 + length);
        buf = buf.subarray(6 + length);
        const fault = this.currentFault();
        if (fault.kind === 'drop') {
          this.handle(pdu);
          socket.destroy();
          return;
        }
        if (fault.kind === 'silence') {
          this.handle(pdu);
          continue;
        }
        // a TCP meter answers for its own unit id; for others it acts as a gateway with nobody behind
        const response = unit === this.unitId || unit === 0xff ? this.handle(pdu) : exceptionPdu(pdu[0]!, 11);
        if (!response) continue;
        const frame = tcpFrame(transaction, unit, response);
        this.send(fault, () => socket.writable && socket.write(frame));
      }
    });
  }

  private onRtuData(chunk: Buffer): void {
    this.rtuBuffer = this.rtuBuffer.length ? Buffer.concat([this.rtuBuffer, chunk]) : chunk;
    for (;;) {
      const n = rtuRequestLength(this.rtuBuffer);
      if (n === 0 || this.rtuBuffer.length < n) return;
      const frame = this.rtuBuffer.subarray(0, n);
      if (frame.readUInt16LE(n - 2) !== crc16(frame, n - 2)) {
        // not a frame boundary (noise, or a frame from mid-way): slide by one byte
        this.rtuBuffer = this.rtuBuffer.subarray(1);
        continue;
      }
      this.rtuBuffer = this.rtuBuffer.subarray(n);
      const unit = frame[0]!;
      if (unit !== this.unitId) continue; // another slave on the bus: not ours to answer
      const fault = this.currentFault();
      const response = this.handle(Buffer.from(frame.subarray(1, n - 2)));
      if (!response || fault.kind === 'silence' || fault.kind === 'drop') continue;
      const out = rtuFrame(unit, response);
      if (fault.kind === 'bad_crc') out[out.length - 1] = out[out.length - 1]! ^ 0x5a;
      this.send(fault, () => this.serial?.write(out));
    }
  }

  private send(fault: Ion7550Fault, write: () => void): void {
    if (fault.kind !== 'slow') {
      write();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      write();
    }, fault.delayMs);
    this.timers.add(t);
  }
}


