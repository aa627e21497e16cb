// The packet forwarders the listener has heard from, and where each one's downlinks go.
//
// The Semtech UDP protocol has no authentication: a datagram names its gateway by an EUI anyone
// can write. A downlink goes to the address of the gateway's PULL_DATA, so a PULL_DATA sent from
// elsewhere under a real gateway's EUI would divert its downlinks (JoinAccepts, ACKs) to the
// sender. The path is therefore pinned to the address it was first opened from, and moves only
// once no PULL_DATA has come from that address for `pinMs` (the forwarder sends one every
// keepalive, 10 s by default), which is what a gateway that really moved (a new NAT mapping, a
// new IP address after a reboot) looks like. A spoofer can still take the path of a gateway that
// has gone silent; nothing in the protocol can tell them apart.
import type { GatewayStat } from './packets.ts';

export interface DownlinkPath {
  address: string;
  port: number;
  /** protocol version of the PULL_DATA that opened it (PULL_RESP answers in kind) */
  version: number;
  /** the last PULL_DATA from this address, ms since the epoch */
  at: number;
}

export interface GatewayInfo {
  eui: string;
  lastSeenAt: number;
  /** where PULL_RESP goes: the pinned address of this gateway's PULL_DATA */
  pull?: DownlinkPath;
  stat?: GatewayStat;
}

/** What a PULL_DATA did to the gateway's downlink path. */
export type PullOutcome = 'opened' | 'kept' | 'moved' | 'refused';

export interface Endpoint {
  address: string;
  port: number;
}

export class GatewayTable {
  private readonly byEui = new Map<string, GatewayInfo>();

  private readonly maxGateways: number;
  private readonly pinMs: number;
  private readonly onForget: (eui: string) => void;

  constructor(
    /** gateways tracked at once; beyond it one is forgotten */
    maxGateways: number,
    /** how long a silent downlink path stays pinned, ms */
    pinMs: number,
    /** told of each gateway forgotten, so that what is kept about it elsewhere can go too */
    onForget: (eui: string) => void = () => undefined,
  ) {
    this.maxGateways = maxGateways;
    this.pinMs = pinMs;
    this.onForget = onForget;
  }

  get(eui: string): GatewayInfo | undefined {
    return this.byEui.get(eui);
  }

  list(): GatewayInfo[] {
    return [...this.byEui.values()];
  }

  get size(): number {
    return this.byEui.size;
  }

  /** Note a datagram from `eui`; `created` says it was not in the table before. */
  touch(eui: string, now: number): { info: GatewayInfo; created: boolean } {
    let info = this.byEui.get(eui);
    const created = !info;
    if (!info) {
      if (this.byEui.size >= this.maxGateways) this.forgetOne(now);
      info = { eui, lastSeenAt: now };
      this.byEui.set(eui, info);
    }
    info.lastSeenAt = now;
    return { info, created };
  }

  /** A PULL_DATA from `from`: open, keep or move the downlink path, or refuse to. */
  pull(info: GatewayInfo, from: Endpoint, version: number, now: number): PullOutcome {
    const path = info.pull;
    if (path && sameEndpoint(path, from)) {
      path.at = now;
      path.version = version;
      return 'kept';
    }
    if (path && now - path.at < this.pinMs) return 'refused';
    info.pull = { address: from.address, port: from.port, version, at: now };
    return path ? 'moved' : 'opened';
  }

  /**
   * Whether a datagram that belongs to the downlink path (TX_ACK, which the reference forwarder
   * sends from the socket of its PULL_DATA) came from where that path is pinned.
   */
  onDownlinkPath(info: GatewayInfo, from: Endpoint): boolean {
    return info.pull !== undefined && sameEndpoint(info.pull, from);
  }

  /**
   * Bounded memory against a flood of made-up EUIs: forget the gateway heard from longest ago,
   * sparing those with a live downlink path while any other is left, so that a flood cannot
   * unpin a working gateway and hand its path to the next PULL_DATA that names it.
   */
  private forgetOne(now: number): void {
    let oldest: GatewayInfo | undefined;
    let oldestUnpinned: GatewayInfo | undefined;
    for (const g of this.byEui.values()) {
      if (!oldest || g.lastSeenAt < oldest.lastSeenAt) oldest = g;
      const pinned = g.pull !== undefined && now - g.pull.at < this.pinMs;
      if (!pinned && (!oldestUnpinned || g.lastSeenAt < oldestUnpinned.lastSeenAt)) oldestUnpinned = g;
    }
    const victim = oldestUnpinned ?? oldest;
    if (!victim) return;
    this.byEui.delete(victim.eui);
    this.onForget(victim.eui);
  }
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port;
}
