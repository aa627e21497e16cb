// The cloud sink as one object: store, registry, verification, anchoring, proofs and reports
// behind an HTTP server. `fieldproof sink` runs it; the demo, the tests and the drain benchmark
// run it in-process.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { silentLogger } from '../runtime/log.ts';
import { Registry } from '../runtime/metrics.ts';
import { loadAnchorAbi } from './anchor/abi.ts';
import { Anchorer } from './anchor/anchorer.ts';
import { AptosAnchorChain, readPrivateKey, type AnchorChain } from './anchor/aptos-chain.ts';
import { invalidDeviceKeys, splitListen, type SinkConfig } from './config.ts';
import { HttpApi } from './http-api.ts';
import { Ingest } from './ingest.ts';
import { MrvService } from './mrv/service.ts';
import { ProofService } from './proofs.ts';
import { DeviceRegistry } from './registry.ts';
import { ChainSequencer } from './sequencer.ts';
import { createStore } from './store/index.ts';
import type { SinkStore } from './store/types.ts';

export interface SinkDeps {
  log?: Logger;
  metrics?: Registry;
  /** a store other than the config's (tests) */
  store?: SinkStore;
  /** an anchor chain other than the config's Aptos node (tests) */
  chain?: AnchorChain;
}

export class Sink {
  private server: Server | null = null;
  private anchorer: Anchorer | null = null;
  private mrvService: MrvService | null = null;
  private storeInUse: SinkStore | null = null;
  readonly metrics: Registry;
  private readonly log: Logger;

  constructor(readonly config: SinkConfig, private readonly deps: SinkDeps = {}) {
    this.log = deps.log ?? silentLogger();
    this.metrics = deps.metrics ?? new Registry();
  }

  get store(): SinkStore {
    if (!this.storeInUse) throw new Error('the sink is not started');
    return this.storeInUse;
  }

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('the sink is not listening');
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `${this.config.tls ? 'https' : 'http'}://${host}:${addr.port}`;
  }

  async start(): Promise<void> {
    const { config, log, metrics } = this;
    for (const id of invalidDeviceKeys(config)) {
      log.warn({ device: id }, 'the config gives this device a key that is not 64 hex digits (a placeholder?); its batches will be refused');
    }
    const store = this.deps.store ?? createStore(config);
    await store.open();
    this.storeInUse = store;
    try {
      const registry = new DeviceRegistry(store, config.devices, log);
      await registry.load();
      const ingest = new Ingest({
        store, registry, log, metrics, chainWaitMs: config.limits.chainWaitMs,
        sequencer: new ChainSequencer(store, store.kind === 'level'),
      });
      if (config.anchor.mode === 'aptos') {
        const chain = this.deps.chain ?? this.aptosChain();
        this.anchorer = new Anchorer({ store, chain, intervalMs: config.anchor.intervalMs, retryMs: config.anchor.retryMs, log: log.child({ part: 'anchor' }), metrics });
      }
      this.mrvService = new MrvService({ store, config: config.report, log: log.child({ part: 'mrv' }), metrics });
      await this.mrvService.start();
      const api = new HttpApi({
        store, ingest, registry, proofs: new ProofService(store), anchorer: this.anchorer, log, metrics,
        limits: config.limits, adminToken: process.env.FIELDPROOF_SINK_ADMIN_TOKEN ?? config.adminToken ?? null,
        mrv: this.mrvService,
      });
      const server = config.tls
        ? createHttpsServer({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) }, api.handle)
        : createHttpServer(api.handle);
      server.keepAliveTimeout = 65_000;
      server.requestTimeout = 120_000;
      const { host, port } = splitListen(config.listen);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(new Error(err.code === 'EADDRINUSE' ? `cannot listen on ${config.listen}: the address is in use` : `cannot listen on ${config.listen}: ${err.message}`)));
        server.listen(port, host, () => resolve());
      });
      this.server = server;
      await this.anchorer?.start();
      log.info({ url: this.url, store: store.kind, anchor: config.anchor.mode, devices: registry.list().length }, 'sink listening');
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private aptosChain(): AnchorChain {
    const a = this.config.anchor.aptos!;
    return new AptosAnchorChain({
      node: a.node, module: a.module, privateKey: readPrivateKey(a.privateKeyFile), chain: a.chain, maxGasAmount: a.maxGasAmount,
      waitSecs: a.waitSecs, abi: loadAnchorAbi(), log: this.log.child({ part: 'aptos' }),
    });
  }

  /** Anchor now rather than at the next interval (the demo, the tests). */
  async anchorNow(): Promise<number | null> {
    if (!this.anchorer) throw new Error('anchoring is off (anchor.mode: none)');
    return this.anchorer.runOnce(true);
  }

  /** The MRV part (reports, notes, the register index). */
  get mrv(): MrvService {
    if (!this.mrvService) throw new Error('the sink is not started');
    return this.mrvService;
  }

  async stop(): Promise<void> {
    await this.anchorer?.stop();
    await this.mrvService?.stop();
    this.mrvService = null;
    const server = this.server;
    this.server = null;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
    }
    await this.storeInUse?.close();
    this.storeInUse = null;
  }
}

export async function startSink(config: SinkConfig, deps: SinkDeps = {}): Promise<Sink> {
  const sink = new Sink(config, deps);
  await sink.start();
  return sink;
}
