// A simulated site: nodes behind a forwarder, for the demo and the benchmark.
import { SimulatedForwarder, type ForwarderOptions } from './forwarder.ts';
import { SimulatedNode, type AbpKeys, type OtaaKeys } from './node.ts';

export interface SimulatedSiteOptions {
  server: ForwarderOptions['server'];
  /** the gateway's device list (as in the config): ABP nodes start sending, OTAA nodes join first */
  devices: ({ id: string; activation: 'abp' } & AbpKeys | { id: string; activation: 'otaa' } & OtaaKeys)[];
  eui?: string;
  /** each node sends one uplink per interval, spread over it */
  intervalMs?: number;
  /** for a repeatable run */
  seed?: number;
  onError?: (err: Error) => void;
}

/**
 * A packet forwarder and its nodes sending Cayenne LPP temperature and humidity on a timer, for
 * the demo: a site with LoRa sensors, minus the radio. OTAA nodes join (and retry) before sending.
 */
export class SimulatedSite {
  private forwarder: SimulatedForwarder | null = null;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  uplinks = 0;

  private readonly opts: SimulatedSiteOptions;

  constructor(opts: SimulatedSiteOptions) {
    this.opts = opts;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const fwd = new SimulatedForwarder({ server: this.opts.server, eui: this.opts.eui ?? 'b827ebfffe000001', pullIntervalMs: 5000 });
    await fwd.start();
    this.forwarder = fwd;
    const every = this.opts.intervalMs ?? 10_000;
    let seed = this.opts.seed ?? 1;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    this.opts.devices.forEach((d, i) => {
      const node = d.activation === 'abp' ? SimulatedNode.abp(d) : SimulatedNode.otaa(d);
      const base = 18 + rand() * 8;
      const send = async () => {
        if (this.stopped) return;
        try {
          if (!node.joined) {
            await fwd.uplink(node.joinRequest());
            node.acceptJoin((await fwd.nextDownlink(8000)).phy);
          }
          const t = Math.round((base + 3 * Math.sin(Date.now() / 600_000 + i) + (rand() - 0.5) * 0.4) * 10);
          const rh = Math.round((55 + 15 * Math.sin(Date.now() / 900_000 + i)) * 2);
          const payload = Buffer.from([1, 0x67, (t >> 8) & 0xff, t & 0xff, 2, 0x68, rh & 0xff]);
          await fwd.uplink(node.uplink(payload), { rssi: -60 - Math.round(rand() * 50), lsnr: Math.round((10 - rand() * 15) * 10) / 10 });
          this.uplinks++;
        } catch (err) {
          if (!this.stopped) this.opts.onError?.(err as Error);
        }
      };
      const first = setTimeout(() => {
        void send();
        const t = setInterval(() => void send(), every);
        this.timers.push(t);
      }, Math.round((every * i) / Math.max(1, this.opts.devices.length)));
      this.timers.push(first);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    await this.forwarder?.stop();
    this.forwarder = null;
  }
}
