// The gateway as a part of the device daemon: the Semtech UDP listener feeding the site's own
// LoRaWAN network server, whose decoded readings enter the same pipeline as the drivers'.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DriverStatus } from '../drivers/types.ts';
import type { ReadingInput } from '../protocol/records.ts';
import type { Component, ComponentFactory, StatusBoard } from '../runtime/component.ts';
import { ConfigError } from '../runtime/config/errors.ts';
import { CayenneLppCodec, type Codec } from './codecs/codec.ts';
import { CodecLoadError, JsCodec } from './codecs/js-codec.ts';
import { parseListen, resolveCodecs, type GatewayConfig, type LorawanDeviceConfig } from './config.ts';
import { LorawanNetworkServer } from './network-server.ts';
import { SemtechUdpServer } from './semtech/udp-server.ts';
import { SessionStore } from './session-store.ts';

export interface GatewayDeps {
  config: GatewayConfig;
  /** device id -> its codec, already compiled */
  codecs: Map<string, Codec>;
  dataDir: string;
  emit(reading: ReadingInput): void;
  statusChanged?(status: DriverStatus): void;
  log: Logger;
  metrics: Registry;
  /** where the bound address is published (`gateway`), for whoever asked for port 0 */
  board?: StatusBoard;
}

export class GatewayComponent implements Component {
  readonly name = 'gateway';
  private store: SessionStore | null = null;
  private server: LorawanNetworkServer | null = null;
  private udp: SemtechUdpServer | null = null;

  constructor(private readonly deps: GatewayDeps) {}

  async start(): Promise<void> {
    const { config, log, metrics } = this.deps;
    const listen = parseListen(config.listen)!;
    const store = new SessionStore(this.deps.dataDir, log);
    await store.open();
    this.store = store;
    const devices = config.devices.map((d) => ({ config: d, codec: this.deps.codecs.get(d.id)! }));
    let udp: SemtechUdpServer | null = null;
    const server = new LorawanNetworkServer({
      config,
      devices,
      store,
      emit: this.deps.emit,
      ...(this.deps.statusChanged ? { statusChanged: this.deps.statusChanged } : {}),
      downlink: { sendDownlink: (gw, txpk) => udp?.sendDownlink(gw, txpk) ?? null },
      log,
      metrics,
    });
    try {
      await server.start();
    } catch (err) {
      await store.close().catch(() => undefined);
      this.store = null;
      throw err;
    }
    this.server = server;
    udp = new SemtechUdpServer({
      host: listen.host,
      port: listen.port,
      log,
      metrics,
      recvBufferBytes: config.recvBufferBytes,
      maxQueueBytes: config.maxQueueBytes,
      downlinkPinMs: config.downlinkPinMs,
      ...(config.socketThreadNice !== undefined ? { socketThreadNice: config.socketThreadNice } : {}),
      ...(config.gateways ? { allowedGateways: config.gateways } : {}),
      handlers: {
        onUplinks: (batch) => server.handleUplinks(batch),
        onTxAck: (gw, token, error) => server.handleTxAck(gw, token, error),
        onNewGateway: () => this.reportListener('ok'),
      },
    });
    try {
      await udp.start();
    } catch (err) {
      await store.close();
      this.store = null;
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError(code === 'EADDRINUSE'
        ? `gateway.listen: ${config.listen} is already in use (another network server or packet forwarder bridge?)`
        : `gateway.listen: cannot listen on ${config.listen}: ${code ?? (err as Error).message}`);
    }
    this.udp = udp;
    this.deps.board?.set('gateway', udp.address());
    this.reportListener('ok');
  }

  /** The listener as a source on the dashboard: where it listens and how many forwarders it hears. */
  private reportListener(state: 'ok' | 'stopped'): void {
    if (!this.deps.statusChanged) return;
    const gateways = this.udp?.gateways().length ?? 0;
    const a = this.udp?.address();
    this.deps.statusChanged({
      id: 'lorawan-gateway',
      kind: 'semtech-udp',
      state,
      readings: 0,
      errors: 0,
      detail: state === 'stopped' ? 'stopped'
        : `listening on ${a ? `${a.address}:${a.port}` : this.deps.config.listen}; ${gateways === 0 ? 'no packet forwarder heard yet' : `${gateways} packet forwarder(s) heard`}`,
    });
  }

  /** The bound address (the port when 0 was asked for). */
  address(): { address: string; port: number } {
    if (!this.udp) throw new Error('gateway not started');
    return this.udp.address();
  }

  /** The socket thread's id and nice value, once socketThreadNice was applied (null: not set, or refused). */
  socketThread(): { tid: number; nice: number } | null {
    return this.udp?.socketThread() ?? null;
  }

  networkServer(): LorawanNetworkServer {
    if (!this.server) throw new Error('gateway not started');
    return this.server;
  }

  async stop(): Promise<void> {
    // Stop taking datagrams, decode those already acknowledged, then let the joins and session writes finish.
    await this.udp?.stop();
    this.udp = null;
    this.reportListener('stopped');
    await this.server?.stop();
    this.server = null;
    await this.store?.close();
    this.store = null;
  }
}

/** Compile every device's codec: a missing file or a script that does not load is a one-line config error. */
export function loadCodecs(config: GatewayConfig, configFile?: string): Map<string, Codec> {
  const refs = resolveCodecs(config, configFile);
  const cayenne = new CayenneLppCodec();
  const byPath = new Map<string, JsCodec>();
  const out = new Map<string, Codec>();
  config.devices.forEach((d: LorawanDeviceConfig, i) => {
    const ref = refs.get(d.id)!;
    if (ref.kind === 'builtin') {
      out.set(d.id, cayenne);
      return;
    }
    // Devices of one model share one compiled codec, and so one context and one batch per turn.
    let codec = byPath.get(ref.path);
    if (!codec) {
      try {
        codec = JsCodec.fromFile(ref.path, { timeoutMs: config.codecTimeoutMs });
      } catch (err) {
        if (err instanceof CodecLoadError) throw new ConfigError(`${configFile ?? 'config'}: gateway.devices.${i}.codec: ${err.message}`);
        throw err;
      }
      byPath.set(ref.path, codec);
    }
    out.set(d.id, codec);
  });
  return out;
}

export const createGateway: ComponentFactory = (ctx) => {
  const config = ctx.config.gateway;
  if (!config) return null;
  const log = ctx.log.child({ part: 'gateway' });
  return new GatewayComponent({
    config,
    codecs: loadCodecs(config, ctx.config.configFile),
    dataDir: ctx.config.dataDir,
    emit: ctx.emit,
    statusChanged: ctx.statusChanged,
    log,
    metrics: ctx.metrics,
    board: ctx.board,
  });
};
