// A gateway (listener + network server + session store) on a free port with a temp data dir, and a
// test packet forwarder connected to it: what the network-server and fuzz tests run against.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DriverStatus } from '../../kernel/source.ts';
import type { ReadingInput } from '../../protocol/records.ts';
import type { DaemonServices } from '../../kernel/component.ts';
import { silentLogger } from '../../kernel/log.ts';
import { Registry } from '../../kernel/metrics.ts';
import { GatewayComponent } from '../component.ts';
import { gatewaySchema, type GatewayConfig } from '../config.ts';
import { SimulatedForwarder } from '../simulator.ts';

export const ABP = { devAddr: '49be7df1', nwkSKey: '44024241ed4ce9a68c6a8bc055233fd3', appSKey: 'ec925802ae430ca77fd3dd73cb2cc588' };
export const OTAA = { devEui: '0004a30b001c0530', joinEui: '70b3d57ed0000000', appKey: '2b7e151628aed2a6abf7158809cf4f3c' };
export const GW1 = 'aa555a0000000101';
export const GW2 = 'aa555a0000000202';

export function testGatewayConfig(extra: Record<string, unknown> = {}): GatewayConfig {
  return gatewaySchema.parse({
    listen: '127.0.0.1:0',
    devices: [
      { id: 'node-1', activation: 'abp', ...ABP, codec: 'cayenne-lpp' },
      { id: 'node-2', activation: 'otaa', ...OTAA, codec: 'cayenne-lpp' },
    ],
    ...extra,
  });
}

export class GatewayFixture {
  readonly readings: ReadingInput[] = [];
  readonly statuses: DriverStatus[] = [];
  metrics = new Registry();
  readonly services: DaemonServices = {};
  gateway!: GatewayComponent;
  forwarders: SimulatedForwarder[] = [];

  readonly config: GatewayConfig;
  readonly dataDir: string;
  private readonly configFile?: string;

  constructor(
    config: GatewayConfig,
    dataDir = mkdtempSync(join(tmpdir(), 'fieldproof-gateway-test-')),
    configFile?: string,
  ) {
    this.config = config;
    this.dataDir = dataDir;
    this.configFile = configFile;
  }

  async start(): Promise<void> {
    this.metrics = new Registry();
    this.gateway = new GatewayComponent({
      config: this.config,
      ...(this.configFile !== undefined ? { configFile: this.configFile } : {}),
      dataDir: this.dataDir,
      emit: (r) => this.readings.push(r),
      statusChanged: (s) => this.statuses.push(s),
      log: silentLogger(),
      metrics: this.metrics,
      services: this.services,
    });
    await this.gateway.start();
  }

  /** A forwarder with this EUI that has opened its downlink path. */
  async forwarder(eui = GW1, opts: { txAckError?: (txpk: import('../semtech/packets.ts').TxPacket) => string } = {}): Promise<SimulatedForwarder> {
    const f = new SimulatedForwarder({ server: this.gateway.address(), eui, pullIntervalMs: 0, ...opts });
    await f.start();
    this.forwarders.push(f);
    return f;
  }

  status(id: string): DriverStatus | undefined {
    return this.statuses.filter((s) => s.id === id).at(-1);
  }

  async restart(): Promise<void> {
    await this.stopForwarders();
    await this.gateway.stop();
    await this.start();
  }

  private async stopForwarders(): Promise<void> {
    for (const f of this.forwarders) await f.stop();
    this.forwarders = [];
  }

  async stop(keepData = false): Promise<void> {
    await this.stopForwarders();
    await this.gateway.stop();
    if (!keepData) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
