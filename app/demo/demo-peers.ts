// The simulated devices `fieldproof demo` runs beside the daemon, each on a real wire: an MH-Z19
// on a socat pty pair, an ION7550 meter over Modbus TCP, a LoRaWAN node heard through a Semtech UDP
// packet forwarder, and PV sensors that exist only in software. Each one also says what it adds
// to the device config, so that the daemon reads it with the same driver a real site uses.
import { randomBytes } from 'node:crypto';
import type { DeviceConfigInput } from '../config/device-config.ts';
import type { DaemonContext } from '../daemon-context.ts';
import { Ion7550Simulator } from '../../drivers/ion7550/simulator.ts';
import { Mhz19Simulator } from '../../drivers/mhz19/simulator.ts';
import { PtyPair } from '../../drivers/serial/pty-pair.ts';
import { SimulatedForwarder, SimulatedNode } from '../../gateway/simulator.ts';
import { CommandFailure } from '../../kernel/command.ts';

/** A simulated peer the demo runs beside the daemon, and what it adds to the device config. */
export interface DemoPeer {
  /** what the progress lines call it */
  label: string;
  /** the series whose newest value the progress lines show */
  sensor: string;
  metric: string;
  start(): Promise<void>;
  /** adds this peer's driver (or section) to the device config; called after start() */
  configure(config: DeviceConfigInput): void;
  /** for peers that need the running daemon (a forwarder needs the gateway's bound port) */
  connect?(ctx: DaemonContext): Promise<void>;
  stop(): Promise<void>;
}

/** One cycle of a slow daily-like swing, compressed into `periodMs`. */
function swing(t0: number, now: number, periodMs: number): number {
  return Math.sin(((now - t0) / periodMs) * 2 * Math.PI);
}

/** An MH-Z19B on the far end of a pty pair; the room's CO2 rises and falls over ten minutes. */
export class Mhz19Peer implements DemoPeer {
  readonly label = 'MH-Z19 (serial pty)';
  readonly sensor = 'co2-room';
  readonly metric = 'co2_ppm';
  private pty: PtyPair | null = null;
  private sim: Mhz19Simulator | null = null;

  async start(): Promise<void> {
    this.pty = await PtyPair.open();
    const t0 = Date.now();
    this.sim = new Mhz19Simulator({ path: this.pty.peerPath, co2Ppm: (now) => 650 + 250 * swing(t0, now, 600_000) + 15 * Math.sin(now / 7000), warmupMs: 0 });
    await this.sim.start();
  }

  configure(config: DeviceConfigInput): void {
    config.drivers!.push({ kind: 'mhz19', id: this.sensor, port: this.pty!.devicePath, intervalMs: 2000, warmupMs: 0 } as never);
  }

  async stop(): Promise<void> {
    await this.sim?.stop();
    await this.pty?.dispose();
  }
}

/**
 * An ION7550 power meter on a PV plant's feeder, answering Modbus TCP on a free local port with the
 * factory register map; the daemon polls it with the ion7550 driver, which turns the kWh counter
 * into interval energy and avoided CO2e.
 */
export class Ion7550Peer implements DemoPeer {
  readonly label = 'ION7550 meter (Modbus TCP)';
  readonly sensor = 'meter-main';
  readonly metric = 'power_kw';
  private sim: Ion7550Simulator | null = null;

  async start(): Promise<void> {
    const t0 = Date.now();
    // 100 kW peak over a ten-minute "day", with the flicker of passing clouds; never below zero.
    const sim = new Ion7550Simulator({
      unitId: 100,
      tcp: { host: '127.0.0.1', port: 0 },
      powerKw: (now) => Math.max(0, 60 + 40 * swing(t0, now, 600_000) + 3 * Math.sin(now / 3100)),
      energyKwh: 48_210.5,
    });
    await sim.start();
    this.sim = sim;
  }

  configure(config: DeviceConfigInput): void {
    config.drivers!.push({
      kind: 'ion7550',
      id: this.sensor,
      tcp: { host: '127.0.0.1', port: this.sim!.tcpPort },
      unit: 100,
      intervalMs: 2000,
      // a device-side estimate of avoided emissions for the dashboard
      energy: { emissionFactorKgPerKwh: 0.4 },
      // the monitoring plan the sink's MRV report (/v1/reports/DEVICE) credits the meter by
      mrv: { export: 'energy_delivered_kwh', import: 'energy_received_kwh', power: 'power_kw', serial: 'DEMO-ION-1', accuracyClass: '0.2S', calibratedAt: '2025-06-01', calibrationDue: '2027-06-01', ratedKw: 150 },
    });
  }

  async stop(): Promise<void> {
    await this.sim?.stop();
  }
}

/** Cayenne LPP as a node's firmware packs it: temperature (0.1 degC), humidity (0.5 %), battery voltage (0.01 V). */
export function cayenneLppPayload(temperatureC: number, humidityPct: number, batteryV: number): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt8(1, 0);
  b.writeUInt8(0x67, 1);
  b.writeInt16BE(Math.round(temperatureC * 10), 2);
  b.writeUInt8(2, 4);
  b.writeUInt8(0x68, 5);
  b.writeUInt8(Math.max(0, Math.min(255, Math.round(humidityPct * 2))), 6);
  b.writeUInt8(3, 7);
  b.writeUInt8(0x74, 8);
  b.writeUInt16BE(Math.round(batteryV * 100), 9);
  return b;
}

const LORA_NODE = 'field-node';
const JOIN_TRIES = 3;

/**
 * A LoRaWAN field node (temperature, humidity, battery) heard by a packet forwarder: the forwarder
 * is a real UDP client of the daemon's gateway, the node joins over the air (OTAA, with keys made
 * for this run) and sends an encrypted Cayenne LPP uplink every two seconds. No radio is involved.
 */
export class LoraPeer implements DemoPeer {
  readonly label = 'LoRaWAN node (Semtech UDP gateway)';
  readonly sensor = `${LORA_NODE}-1`;
  readonly metric = 'temperature_c';
  private readonly keys = { devEui: randomBytes(8).toString('hex'), joinEui: '70b3d57ed0000000', appKey: randomBytes(16).toString('hex') };
  private readonly gatewayEui = randomBytes(8).toString('hex');
  private node: SimulatedNode | null = null;
  private forwarder: SimulatedForwarder | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> = Promise.resolve();
  /** uplinks the gateway did not acknowledge */
  unacknowledged = 0;

  async start(): Promise<void> {}

  configure(config: DeviceConfigInput): void {
    // Port 0: the gateway takes a free port and publishes it on the status board.
    config.gateway = {
      listen: '127.0.0.1:0',
      devices: [{ id: LORA_NODE, activation: 'otaa', ...this.keys, codec: 'cayenne-lpp' }],
    };
  }

  async connect(ctx: DaemonContext): Promise<void> {
    const bound = ctx.board.get('gateway') as { address: string; port: number } | undefined;
    if (!bound) throw new CommandFailure('the gateway did not publish the port it listens on');
    const forwarder = new SimulatedForwarder({ server: { host: bound.address, port: bound.port }, eui: this.gatewayEui, pullIntervalMs: 10_000 });
    await forwarder.start();
    this.forwarder = forwarder;
    this.node = await this.join(forwarder);
    const t0 = Date.now();
    const send = () => {
      const now = Date.now();
      const payload = cayenneLppPayload(
        18 + 6 * swing(t0, now, 600_000) + 0.3 * Math.sin(now / 4300),
        62 - 12 * swing(t0, now, 600_000),
        3.61 - (now - t0) / 3_600_000,
      );
      const phy = this.node!.uplink(payload, { fPort: 2 });
      this.sending = forwarder.uplink(phy).then(
        () => undefined,
        () => void this.unacknowledged++,
      );
    };
    send();
    this.timer = setInterval(send, 2000);
  }

  /** JoinRequest up, JoinAccept down through the forwarder's PULL_RESP; a lost one is retried. */
  private async join(forwarder: SimulatedForwarder): Promise<SimulatedNode> {
    const node = SimulatedNode.otaa(this.keys);
    let last = '';
    for (let i = 0; i < JOIN_TRIES; i++) {
      try {
        await forwarder.uplink(node.joinRequest());
        const accept = await forwarder.nextDownlink(3000);
        node.acceptJoin(accept.phy);
        return node;
      } catch (err) {
        last = (err as Error).message;
      }
    }
    throw new CommandFailure(`the LoRaWAN node could not join through the gateway: ${last}`);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.forwarder?.stop();
    await this.sending;
    this.forwarder = null;
  }
}

/** Sensors that exist only in software, always there: the pipeline runs even before any peer. */
export class SimulatedPeer implements DemoPeer {
  readonly label = 'simulated PV strings';
  readonly sensor = 'pv-1';
  readonly metric = 'power_kw';
  async start(): Promise<void> {}
  configure(config: DeviceConfigInput): void {
    config.drivers!.push({ kind: 'simulated', id: 'pv', sensors: 4, intervalMs: 1000, signal: 'power', faults: [{ kind: 'spike', rate: 0.002, magnitude: 80 }] });
  }
  async stop(): Promise<void> {}
}
