// OTAA joins: a JoinRequest's MIC is checked with the device's AppKey, a DevNonce used before is
// refused (the used ones are kept for ever), and the new session is synced to disk before its
// JoinAccept goes out in the join receive window. Joins run one at a time, in arrival order.
import { randomBytes, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { DriverStatus } from '../kernel/source.ts';
import type { GatewayConfig, LorawanDeviceConfig } from './config.ts';
import type { DownlinkScheduler } from './downlink-scheduler.ts';
import type { ThrottledWarn } from '../kernel/log-throttle.ts';
import { devAddrHex, type JoinRequestFrame } from './lorawan/frame.ts';
import { buildJoinAccept, deriveSessionKeys, joinRequestMicValid } from './lorawan/join.ts';
import { JOIN_ACCEPT_DELAY1 } from './lorawan/region.ts';
import type { ReceivedRx } from './semtech/udp-server.ts';
import { newSessionId, type SessionStore, type StoredSession } from './session-store.ts';

export interface JoiningDevice {
  id: string;
  config: LorawanDeviceConfig;
  session: StoredSession | null;
  status: DriverStatus;
}

export interface JoinServerDeps {
  config: GatewayConfig;
  netId: Buffer;
  store: SessionStore;
  scheduler: DownlinkScheduler;
  joins: Counter<'result'>;
  warn: ThrottledWarn;
  log: Logger;
  /** copies of one JoinRequest within this long are one reception */
  dedupWindowMs: number;
  device(devEui: string): JoiningDevice | undefined;
  devAddrTaken(addr: number): boolean;
  /** the session is durable; install it (its JoinAccept is being sent) */
  joined(device: JoiningDevice, session: StoredSession, at: number): void;
}

export class JoinServer {
  private chain: Promise<void> = Promise.resolve();

  private readonly deps: JoinServerDeps;

  constructor(deps: JoinServerDeps) {
    this.deps = deps;
  }

  queue(frame: JoinRequestFrame, phy: Buffer, heard: ReceivedRx): void {
    this.chain = this.chain
      .then(() => this.handle(frame, phy, heard))
      .catch((err) => {
        this.deps.joins.inc({ result: 'error' });
        this.deps.log.error({ err: (err as Error).message, devEui: frame.devEui }, 'join failed');
      });
  }

  /** Wait for the joins in progress. */
  drain(): Promise<void> {
    return this.chain;
  }

  private async handle(frame: JoinRequestFrame, phy: Buffer, heard: ReceivedRx): Promise<void> {
    const { joins, warn } = this.deps;
    const device = this.deps.device(frame.devEui);
    if (!device || device.config.activation !== 'otaa') {
      joins.inc({ result: 'unknown_deveui' });
      this.deps.log.debug({ devEui: frame.devEui }, 'JoinRequest from an unknown DevEUI');
      return;
    }
    const cfg = device.config;
    if (cfg.joinEui !== frame.joinEui) {
      joins.inc({ result: 'joineui_mismatch' });
      warn.warn(`joineui:${cfg.id}`, { device: cfg.id, joinEui: frame.joinEui }, 'refused a JoinRequest naming another JoinEUI');
      return;
    }
    const appKey = Buffer.from(cfg.appKey, 'hex');
    if (!joinRequestMicValid(phy, appKey)) {
      joins.inc({ result: 'bad_mic' });
      device.status.errors++;
      warn.warn(`join_mic:${cfg.id}`, { device: cfg.id }, 'refused a JoinRequest whose MIC does not match the AppKey');
      return;
    }
    const s = device.session;
    if (s?.devNonce === frame.devNonce && s.joinedAt !== undefined && heard.receivedAt - s.joinedAt < this.deps.dedupWindowMs) {
      joins.inc({ result: 'duplicate' });
      return;
    }
    if (!(await this.deps.store.useNonce(cfg.devEui, frame.devNonce, heard.receivedAt))) {
      joins.inc({ result: 'devnonce_replay' });
      device.status.errors++;
      warn.warn(`devnonce:${cfg.id}`, { device: cfg.id, devNonce: frame.devNonce }, 'refused a JoinRequest reusing a DevNonce (a replay, or a node with a broken nonce source)');
      return;
    }
    const appNonce = randomBytes(3);
    const devAddr = this.allocateDevAddr();
    const keys = deriveSessionKeys(appKey, this.deps.netId, appNonce, frame.devNonce);
    const session: StoredSession = {
      deviceId: cfg.id,
      sid: newSessionId(),
      activation: 'otaa',
      devAddr: devAddrHex(devAddr),
      nwkSKey: keys.nwkSKey.toString('hex'),
      appSKey: keys.appSKey.toString('hex'),
      fCntUp: -1,
      fCntDown: 0,
      lastMic: null,
      lastUplinkAt: null,
      joinedAt: heard.receivedAt,
      devNonce: frame.devNonce,
    };
    await this.deps.store.saveNow(session);
    this.deps.joined(device, session, heard.receivedAt);
    const addrBuf = Buffer.alloc(4);
    addrBuf.writeUInt32BE(devAddr);
    const accept = buildJoinAccept({ appKey, appNonce, netId: this.deps.netId, devAddr: addrBuf, dlSettings: 0, rxDelay: this.deps.config.rx1Delay });
    const sent = this.deps.scheduler.send({ gateway: heard.gateway, deviceId: cfg.id, kind: 'join_accept', rx: heard.rx, phy: accept, delayS: JOIN_ACCEPT_DELAY1 }, this.deps.config.downlinkWindow);
    joins.inc({ result: sent ? 'accepted' : 'accepted_not_sent' });
    this.deps.log.info({ device: cfg.id, devAddr: session.devAddr, gateway: heard.gateway, sent }, 'OTAA join accepted');
  }

  /** A free DevAddr in our NetID's range: type 0, NwkID = the NetID's low 6 bits, 25 random bits. */
  private allocateDevAddr(): number {
    const nwkId = this.deps.netId[2]! & 0x3f;
    for (;;) {
      const addr = ((nwkId << 25) | randomInt(0, 1 << 25)) >>> 0;
      if (!this.deps.devAddrTaken(addr)) return addr;
    }
  }
}
