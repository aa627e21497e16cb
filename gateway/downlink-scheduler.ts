// Class A downlinks (ACKs, JoinAccepts, application data) put into the receive windows that follow
// an uplink, through the gateway that heard it best, as PULL_RESP. A gateway that answers TX_ACK
// with an error gets the frame again for the other window, once.
import type { Counter } from 'prom-client';
import type { GatewayConfig } from './config.ts';
import type { QueuedDownlink } from './downlink-queue.ts';
import type { ThrottledWarn } from '../kernel/log-throttle.ts';
import type { Channel, Region } from './lorawan/region.ts';
import type { RxPacket, TxPacket } from './semtech/packets.ts';

/** How long a downlink waits for its TX_ACK before it is forgotten. */
const PENDING_DOWNLINK_MS = 30_000;

export interface DownlinkSender {
  /** Returns the PULL_RESP token, or null when the gateway has no downlink path. */
  sendDownlink(gateway: string, txpk: TxPacket): number | null;
}

export interface ClassADownlink {
  gateway: string;
  deviceId: string;
  kind: 'ack' | 'join_accept' | 'data';
  /** the uplink it answers */
  rx: RxPacket;
  phy: Buffer;
  /** seconds from the uplink to RX1 */
  delayS: number;
  /** application data: the queued downlink it carries and the counter it went out with */
  app?: { item: QueuedDownlink; fCntDown: number };
}

interface Pending extends ClassADownlink {
  window: 'rx1' | 'rx2';
  at: number;
}

export interface DownlinkSchedulerDeps {
  config: GatewayConfig;
  region: Region;
  sender: DownlinkSender;
  downlinks: Counter<'kind' | 'result'>;
  warn: ThrottledWarn;
  now: () => number;
  /** application data handed to a gateway (for that window) */
  appSent(item: QueuedDownlink, fCntDown: number, info: { gateway: string; window: string }): void;
  /** application data no gateway would take */
  appNotSent(item: QueuedDownlink, error: string): void;
}

export class DownlinkScheduler {
  private readonly pending = new Map<number, Pending>();

  private readonly deps: DownlinkSchedulerDeps;

  constructor(deps: DownlinkSchedulerDeps) {
    this.deps = deps;
  }

  /** Send in the given window (RX2 when RX1 cannot serve); false when no gateway took it. */
  send(d: ClassADownlink, window: 'rx1' | 'rx2'): boolean {
    const { config, region } = this.deps;
    if (d.rx.tmst === undefined) {
      this.deps.downlinks.inc({ kind: d.kind, result: 'no_timestamp' });
      if (d.app) this.deps.appNotSent(d.app.item, 'the uplink had no gateway timestamp to time the window by');
      return false;
    }
    // RX1 follows the uplink's channel; an FSK uplink (numeric datr) or one off the plan's channels
    // gets its answer in RX2, which is LoRa in every plan here.
    let ch: Channel | null = null;
    if (window === 'rx1' && typeof d.rx.datr === 'string') {
      ch = region.rx1({ freq: d.rx.freq, datr: d.rx.datr });
      if (!ch) {
        this.deps.downlinks.inc({ kind: d.kind, result: 'uplink_off_plan' });
        this.deps.warn.warn('off_plan', { gateway: d.gateway, device: d.deviceId, freq: d.rx.freq, datr: d.rx.datr, region: region.name }, 'an uplink off the region\'s channels is answered in RX2, not on its own channel');
      }
    }
    if (!ch) {
      ch = region.rx2;
      window = 'rx2';
    }
    const delay = d.delayS + (window === 'rx2' ? 1 : 0);
    const txpk: TxPacket = {
      imme: false,
      tmst: (d.rx.tmst + delay * 1_000_000) >>> 0,
      freq: ch.freq,
      rfch: 0,
      powe: config.txPower,
      modu: 'LORA',
      datr: ch.datr,
      codr: '4/5',
      ipol: true,
      size: d.phy.length,
      data: d.phy.toString('base64'),
    };
    const token = this.deps.sender.sendDownlink(d.gateway, txpk);
    if (token === null) {
      this.deps.downlinks.inc({ kind: d.kind, result: 'no_downlink_path' });
      this.deps.warn.warn(`no_path:${d.gateway}`, { gateway: d.gateway, device: d.deviceId, kind: d.kind }, 'cannot send a downlink: the gateway has sent no PULL_DATA');
      if (d.app) this.deps.appNotSent(d.app.item, `gateway ${d.gateway} has no downlink path (no PULL_DATA heard)`);
      return false;
    }
    this.deps.downlinks.inc({ kind: d.kind, result: `sent_${window}` });
    if (d.app) this.deps.appSent(d.app.item, d.app.fCntDown, { gateway: d.gateway, window });
    const now = this.deps.now();
    this.pending.set(token, { ...d, window, at: now });
    for (const [t, p] of this.pending) {
      if (now - p.at < PENDING_DOWNLINK_MS) break;
      this.pending.delete(t);
    }
    return true;
  }

  /** A gateway's verdict on a downlink: on refusal, try the other receive window once. */
  handleTxAck(gateway: string, token: number, error: string): void {
    const p = this.pending.get(token);
    if (!p || p.gateway !== gateway) return;
    this.pending.delete(token);
    if (error === 'NONE') {
      this.deps.downlinks.inc({ kind: p.kind, result: 'scheduled' });
      return;
    }
    this.deps.downlinks.inc({ kind: p.kind, result: `refused_${error.toLowerCase()}` });
    const { window: _w, at: _a, ...again } = p;
    if (p.window === 'rx1' && error !== 'TX_POWER' && error !== 'GPS_UNLOCKED') this.send(again, 'rx2');
    else if (p.app) this.deps.appNotSent(p.app.item, `gateway ${gateway} refused the ${p.window.toUpperCase()} window: ${error}`);
  }
}
