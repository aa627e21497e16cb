// The cloud sink as one object: store, registry, verification, anchoring, proofs and reports
// behind an HTTP server. `fieldproof sink` runs it; the demo, the tests and the drain benchmark
// run it in-process.
import type { Logger } from 'pino';
import { silentLogger } from '../kernel/log.ts';
import { processMetrics, Registry } from '../kernel/metrics.ts';
import { Anchorer } from './anchor/anchorer.ts';
import type { AnchorChain } from './anchor/aptos-chain.ts';
import type { DeviceKeySync } from './anchor/device-key-sync.ts';
import { isLoopback } from '../kernel/net.ts';
import { invalidDeviceKeys, sinkKeyFile, splitListen, type SinkConfig } from './config.ts';
import { FleetFeed } from './fleet/fleet-feed.ts';
import { FleetView } from './fleet/fleet-view.ts';
import { HttpApi } from './http-api.ts';
import { PageAccess } from './http/page-access.ts';
import { ClientLimits } from './http/client-limits.ts';
import { Refusals } from './http/replies.ts';
import { SinkServer } from './http/server.ts';
import { Ingest } from './ingest.ts';
import { MrvService } from './mrv/service.ts';
import { PagesRoutes } from './pages/pages-routes.ts';
import { ProofService } from './proofs.ts';
import { DeviceKeyChanges } from './key-changes.ts';
import { ReceiptSigner } from './receipts.ts';
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
  /** the clock receipts are stamped with (the spec's reproducible examples) */
  now?: () => number;
}

export class Sink {
  private server: SinkServer | null = null;
  private anchorer: Anchorer | null = null;
  private keySync: DeviceKeySync | null = null;
  private mrvService: MrvService | null = null;
  private storeInUse: SinkStore | null = null;
  private fleetFeed: FleetFeed | null = null;
  private pageAccess: PageAccess | null = null;
  /** the public key that signs this sink's receipts, once started */
  receiptKey: string | null = null;
  readonly metrics: Registry;
  private readonly log: Logger;

  readonly config: SinkConfig;
  private readonly deps: SinkDeps;

  constructor(config: SinkConfig, deps: SinkDeps = {}) {
    this.config = config;
    this.deps = deps;
    this.log = deps.log ?? silentLogger();
    this.metrics = deps.metrics ?? new Registry();
  }

  get store(): SinkStore {
    if (!this.storeInUse) throw new Error('the sink is not started');
    return this.storeInUse;
  }

  get url(): string {
    if (!this.server) throw new Error('the sink is not listening');
    return this.server.url;
  }

  /** Read the TLS certificate and key again (SIGHUP); false when there is no TLS or they are unusable. */
  reloadTls(): boolean {
    return this.server?.reloadTls() ?? false;
  }

  async start(): Promise<void> {
    const { config, log, metrics } = this;
    for (const id of invalidDeviceKeys(config)) {
      log.warn({ device: id }, 'the config gives this device a key that is not 64 hex digits (a placeholder?); its batches will be refused');
    }
    if (config.insecure) {
      log.warn({ listen: config.listen }, 'insecure: true: serving plain HTTP; batches, proofs and the admin token cross the network unencrypted unless a TLS proxy is in front of the sink');
    }
    processMetrics(metrics);
    const receipts = new ReceiptSigner(sinkKeyFile(config), this.deps.now);
    if (receipts.start()) log.info({ key: receipts.publicKey, file: sinkKeyFile(config) }, 'made the sink\'s receipt key');
    this.receiptKey = receipts.publicKey;
    const store = this.deps.store ?? (await createStore(config, log.child({ part: 'store' })));
    await store.open();
    this.storeInUse = store;
    try {
      const chain = config.anchor.mode === 'aptos' ? (this.deps.chain ?? (await this.aptosChain(store))) : null;
      // With anchoring on Aptos, the device keys the sink accepts are registered on chain too, and
      // only batches whose key counts there are anchored.
      const keyChain = chain?.deviceKeys;
      const keySync: DeviceKeySync | null = keyChain
        ? new (await import('./anchor/device-key-sync.ts')).DeviceKeySync({ chain: keyChain, devices: () => registry.list(), log: log.child({ part: 'device-keys' }), metrics, retryMs: config.anchor.retryMs })
        : null;
      const registry: DeviceRegistry = new DeviceRegistry(store, config.devices, log, keySync);
      await registry.load();
      this.keySync = keySync;
      const ingest = new Ingest({
        store, registry, receipts, log, metrics, chainWaitMs: config.limits.chainWaitMs, futureToleranceMs: config.time.futureToleranceMs,
        sequencer: new ChainSequencer(store, { pipelined: store.kind === 'level', shared: store.kind === 'postgres' }),
      });
      if (chain) {
        const { OnChainKeyAdmission } = await import('./anchor/key-admission.ts');
        const admission = keySync && keyChain ? new OnChainKeyAdmission(keySync, keyChain.operator) : undefined;
        this.anchorer = new Anchorer({ store, chain, intervalMs: config.anchor.intervalMs, retryMs: config.anchor.retryMs, log: log.child({ part: 'anchor' }), metrics, admission });
      }
      this.mrvService = new MrvService({ store, config: config.report, log: log.child({ part: 'mrv' }), metrics });
      await this.mrvService.start();
      const fleet = new FleetView({ store, registry, silentAfterMs: config.pages.silentAfterMs, backlogWarnRecords: config.pages.backlogWarnRecords });
      // A heartbeat well within the time after which the server closes a connection that writes nothing.
      const heartbeatMs = Math.min(10_000, Math.max(100, Math.floor(config.limits.requestTimeoutMs / 2)));
      this.fleetFeed = new FleetFeed({ view: fleet, log: log.child({ part: 'fleet' }), metrics, config: { heartbeatMs } });
      this.fleetFeed.start();
      const access = (this.pageAccess = new PageAccess(process.env.FIELDPROOF_SINK_PAGES_TOKEN ?? config.pages.token ?? null));
      const pages = new PagesRoutes({ access, fleet, feed: this.fleetFeed });
      const clients = new ClientLimits(config.limits);
      const refusals = new Refusals(metrics, log);
      const api = new HttpApi({
        store, ingest, registry, receipts, proofs: new ProofService(store), anchorer: this.anchorer, log, metrics, clients, refusals,
        keyChanges: new DeviceKeyChanges({ registry, chain: keyChain ?? null, log: log.child({ part: 'device-keys' }) }),
        limits: config.limits, adminToken: process.env.FIELDPROOF_SINK_ADMIN_TOKEN ?? config.adminToken ?? null,
        mrv: this.mrvService, fleet, pages, pageAccess: access,
      });
      const { host, port } = splitListen(config.listen);
      const server = new SinkServer({ host, port, tls: config.tls ?? null, timeouts: config.limits, clients, refusals, handler: api.handle, log, metrics });
      await server.start();
      this.server = server;
      await this.keySync?.start();
      await this.anchorer?.start();
      this.logPagesAccess(host);
      log.info({ url: this.url, receiptKey: receipts.publicKey, store: store.kind, anchor: config.anchor.mode, devices: registry.list().length }, 'sink listening');
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** The pages' URL, and who may open them: said once at start, so that nobody wonders why a browser elsewhere is refused. */
  private logPagesAccess(host: string): void {
    const beyond = !isLoopback(host);
    if (!beyond) this.log.info({ pages: this.pagesUrl }, 'pages on this machine only (the sink listens on loopback)');
    else if (this.pageAccess?.tokenSet) this.log.info({ pages: this.pagesUrl }, 'pages open beyond loopback with pages.token (Bearer header, or /?token= once)');
    else this.log.warn({ pages: this.pagesUrl }, 'pages disabled beyond loopback: no pages.token is set; they answer on this machine only');
  }

  /** The fleet page's URL (the device and proof pages are linked from it). */
  get pagesUrl(): string {
    return `${this.url}/`;
  }

  /** The Aptos SDK is imported here, by a sink that anchors: it is most of a sink's start-up otherwise. */
  private async aptosChain(store: SinkStore): Promise<AnchorChain> {
    const [{ AptosAnchorChain, readPrivateKey }, { loadAnchorAbi }] = await Promise.all([import('./anchor/aptos-chain.ts'), import('./anchor/abi.ts')]);
    const a = this.config.anchor.aptos!;
    return new AptosAnchorChain({
      node: a.node, module: a.module, privateKey: readPrivateKey(a.privateKeyFile), chain: a.chain, maxGasAmount: a.maxGasAmount,
      waitSecs: a.waitSecs, abi: loadAnchorAbi(), log: this.log.child({ part: 'aptos' }),
      acrossProcesses: (fn) => store.withChainAccountLock(fn),
    });
  }

  /** Anchor now rather than at the next interval (the demo, the tests). */
  async anchorNow(): Promise<number | null> {
    if (!this.anchorer) throw new Error('anchoring is off (anchor.mode: none)');
    return this.anchorer.runOnce(true);
  }

  /** Wait until the device keys queued for the chain are registered (the demo, the tests). */
  async deviceKeysSettled(): Promise<void> {
    await this.keySync?.settled();
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
    await this.keySync?.stop();
    this.keySync = null;
    this.fleetFeed?.stop();
    this.fleetFeed = null;
    await this.server?.stop();
    this.server = null;
    await this.storeInUse?.close();
    this.storeInUse = null;
  }
}

export async function startSink(config: SinkConfig, deps: SinkDeps = {}): Promise<Sink> {
  const sink = new Sink(config, deps);
  await sink.start();
  return sink;
}
