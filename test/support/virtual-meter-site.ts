// A metered site on a clock the test drives: the ION7550 simulator over real Modbus TCP, read by
// the driver's own code (readMap and the decoder), journaled and signed by a real journal. Time only
// moves when the test says, so the truth (the powers the test set, integrated) is exact, and a run
// of hours takes seconds. Events are what the test makes the simulated meter do between polls.
import { headerHash, type BatchHeader } from '../../protocol/batch.ts';
import type { JournalRecord } from '../../protocol/records.ts';
import type { DeviceKey } from '../../protocol/signature.ts';
import { ion7550DriverSchema, type Ion7550DriverConfig } from '../../drivers/ion7550/config.ts';
import { Ion7550Decoder, modbusTarget, readMap, type BlockResults } from '../../drivers/ion7550/ion7550.ts';
import { acquireLink, releaseLink, type ModbusLink } from '../../drivers/ion7550/modbus-link.ts';
import { meterPlan } from '../../drivers/ion7550/meter-plan.ts';
import { Ion7550Simulator } from '../../drivers/ion7550/simulator.ts';
import { Journal } from '../../runtime/journal/journal.ts';

/** The registers the site's meter serves: power, and the two energy counters (the import one flags a negative reading). */
export const SITE_MAP = [
  { metric: 'power_kw', register: 40204, type: 'int32', scale: 0.001, unit: 'kW' },
  { metric: 'energy_delivered_kwh', register: 40230, type: 'int32', scale: 0.001, unit: 'kWh' },
  { metric: 'energy_received_kwh', register: 40232, type: 'int32', scale: 0.001, unit: 'kWh', min: 0 },
];

export interface SiteOptions {
  dir: string;
  device: string;
  key: DeviceKey;
  t0: number;
  exportKw: number;
  importKw: number;
  intervalMs: number;
  /** the driver entry's mrv: section */
  plan: Record<string, unknown>;
  exportKwh?: number;
  importKwh?: number;
}

export class VirtualMeterSite {
  now: number;
  private sim: Ion7550Simulator | null = null;
  private link: ModbusLink | null = null;
  private journal: Journal | null = null;
  private decoder: Ion7550Decoder | null = null;
  private config: Ion7550DriverConfig;
  private readonly results: BlockResults = [];

  private readonly opts: SiteOptions;

  constructor(opts: SiteOptions) {
    this.opts = opts;
    this.now = opts.t0;
    this.config = this.configFor(opts.plan);
  }

  private configFor(plan: Record<string, unknown>): Ion7550DriverConfig {
    return ion7550DriverSchema.parse({
      kind: 'ion7550', id: 'meter-1', unit: 1, tcp: { host: '127.0.0.1', port: 1 }, intervalMs: this.opts.intervalMs, registers: SITE_MAP, mrv: plan,
    });
  }

  async start(): Promise<void> {
    const o = this.opts;
    this.sim = new Ion7550Simulator({
      unitId: 1, tcp: { port: 0 }, clock: () => this.now, powerKw: o.exportKw, importKw: o.importKw,
      energyKwh: o.exportKwh ?? 1000, importEnergyKwh: o.importKwh ?? 100, map: this.config.registers, implemented: { from: 200, to: 240 },
    });
    await this.sim.start();
    this.config = { ...this.config, tcp: { host: '127.0.0.1', port: this.sim.tcpPort } };
    this.link = acquireLink(modbusTarget(this.config), 2000);
    this.journal = await Journal.open({ dir: o.dir, device: o.device, key: o.key, now: () => this.now, commitMaxWaitMs: 0, batch: { maxRecords: 400, maxAgeMs: 3_600_000 } });
    await this.declarePlan();
  }

  get meter(): Ion7550Simulator {
    return this.sim!;
  }

  /** The device (re)starts its driver under this plan: journals it and reads on from fresh state. */
  async declarePlan(plan?: Record<string, unknown>): Promise<void> {
    if (plan) this.config = { ...this.configFor(plan), tcp: this.config.tcp };
    this.decoder = new Ion7550Decoder(this.config);
    await this.journal!.appendPlan(meterPlan(this.config, this.now)!);
  }

  /** One poll at the current time, over Modbus TCP. */
  async poll(): Promise<void> {
    await readMap(this.link!, 1, this.decoder!.blocks, this.results);
    this.decoder!.decode(this.results, this.now, 0, (r) => this.journal!.write(r));
  }

  /** A poll that failed (the meter did not answer): nulls, flagged. */
  failedPoll(flag = 'timeout'): void {
    this.decoder!.failed(flag, this.now, (r) => this.journal!.write(r));
  }

  /** Every batch the journal sealed, in order, as the uplink would send them. */
  async batches(): Promise<{ header: BatchHeader; records: JournalRecord[] }[]> {
    const j = this.journal!;
    await j.sealNow();
    const out = [];
    for (let b = j.ackedBatch + 1; j.header(b); b++) {
      const batch = (await j.readBatch(b))!;
      out.push({ header: batch.header, records: batch.records });
    }
    return out;
  }

  async stop(): Promise<void> {
    if (this.link) await releaseLink(this.link);
    await this.journal?.close();
    await this.sim?.stop();
  }
}

/** Check that batches chain (what the sink will check again). */
export function chained(batches: readonly { header: BatchHeader }[]): boolean {
  return batches.every((b, i) => i === 0 || b.header.prev === headerHash(batches[i - 1]!.header));
}
