// The gateway as a part of the device daemon: the Semtech UDP listener feeding the site's own
// LoRaWAN network server, whose decoded readings enter the same pipeline as the drivers'.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DriverStatus } from '../kernel/source.ts';
import type { ReadingInput } from '../protocol/records.ts';
import type { Component, DaemonServices, StatusBoard } from '../kernel/component.ts';
import { ConfigError } from '../kernel/config/errors.ts';
import { CayenneLppCodec } from './codecs/cayenne-lpp.ts';
import type { Codec } from './codecs/codec.ts';
import { CodecEngine, DEFAULT_ENGINE_MEMORY_BYTES } from './codecs/engine/host.ts';
import { CodecLoadError, JsCodec } from './codecs/js-codec.ts';
import { parseListen, resolveCodecs, type GatewayConfig } from './config.ts';
import { LorawanNetworkServer } from './network-server.ts';
import { SemtechUdpServer } from './semtech/udp-server.ts';
import { SessionStore } from './session-store.ts';

export interface GatewayDeps {
  config: GatewayConfig;
  /** device id -> its codec; when absent, the codecs the config names are loaded at start */
  codecs?: Map<string, Codec>;
  /** where relative codec paths start from */
  configFile?: string;
  dataDir: string;
  emit(reading: ReadingInput): void;
  statusChanged?(status: DriverStatus): void;
  log: Logger;
  metrics: Registry;
  /** where the bound address is published (`gateway`), for whoever asked for port 0 */
  board?: StatusBoard;
  /** where the downlink queue is offered to the local HTTP API */
  services?: DaemonServices;
}

export class GatewayComponent implements Component {
  readonly name = 'gateway';
  private store: SessionStore | null = null;
  private server: LorawanNetworkServer | null = null;
  private udp: SemtechUdpServer | null = null;
  private engine: CodecEngine | null = null;

  private readonly deps: GatewayDeps;

  constructor(deps: GatewayDeps) {
    this.deps = deps;
  }

  async start(): Promise<void> {
    const { config, log } = this.deps;
    const codecs = this.deps.codecs;
    if (!codecs) {
      // JavaScript codecs get an engine of their own (a worker thread); Cayenne LPP needs none.
      const refs = resolveCodecs(config, this.deps.configFile);
      if ([...refs.values()].some((r) => r.kind === 'file')) {
        // the engine's ceiling leaves room for a codec at its own limit beside the others
        const MiB = 1024 * 1024;
        this.engine = new CodecEngine({ log: log.child({ part: 'codec-engine' }), memoryMaxBytes: Math.max(DEFAULT_ENGINE_MEMORY_BYTES, (2 * config.codecMemoryMiB + 64) * MiB) });
        await this.engine.start();
      }
    }
    try {
      await this.startParts(codecs ?? (await loadCodecs(config, this.deps.configFile, this.engine)));
    } catch (err) {
      // The engine's thread would keep the process alive after a failed start.
      await this.engine?.stop();
      this.engine = null;
      throw err;
    }
  }

  /** The session store, the network server and the listener, in that order. */
  private async startParts(codecs: Map<string, Codec>): Promise<void> {
    const { config, log, metrics } = this.deps;
    const listen = parseListen(config.listen)!;
    const store = new SessionStore(this.deps.dataDir, log);
    await store.open();
    this.store = store;
    const devices = config.devices.map((d) => ({ config: d, codec: codecs.get(d.id)! }));
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
    if (this.deps.services) this.deps.services.downlinks = server;
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
    if (this.deps.services?.downlinks === this.server) delete this.deps.services!.downlinks;
    await this.server?.stop();
    this.server = null;
    await this.store?.close();
    this.store = null;
    await this.engine?.stop();
    this.engine = null;
  }
}

/**
 * Compile every device's codec: a missing file or a script that does not load is a one-line config
 * error naming the device and the file. Devices of one model share one compiled codec.
 */
export async function loadCodecs(config: GatewayConfig, configFile: string | undefined, engine: CodecEngine | null): Promise<Map<string, Codec>> {
  const refs = resolveCodecs(config, configFile);
  const cayenne = new CayenneLppCodec();
  const byPath = new Map<string, JsCodec>();
  const out = new Map<string, Codec>();
  for (const [i, d] of config.devices.entries()) {
    const ref = refs.get(d.id)!;
    if (ref.kind === 'builtin') {
      out.set(d.id, cayenne);
      continue;
    }
    let codec = byPath.get(ref.path);
    if (!codec) {
      if (!engine) throw new Error('JavaScript codecs need the codec engine');
      try {
        codec = await JsCodec.fromFile(engine, ref.path, { limits: { timeoutMs: config.codecTimeoutMs, memoryBytes: config.codecMemoryMiB * 1024 * 1024 } });
      } catch (err) {
        if (err instanceof CodecLoadError) throw new ConfigError(`${configFile ?? 'config'}: gateway.devices.${i}.codec: ${err.message}`);
        throw err;
      }
      byPath.set(ref.path, codec);
    }
    out.set(d.id, codec);
  }
  return out;
}
