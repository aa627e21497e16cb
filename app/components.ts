// The optional parts of the device daemon, in start order (stopped in reverse). Each factory picks
// from the daemon's context what its part needs; the parts themselves know nothing of the daemon,
// and this file is the only place they meet it. Each part's module is imported only when the config
// has its section: a device without a gateway does not load the LoRaWAN code, one without an
// uplink not the HTTP client, one without alerts, sparkplug or cloudTelemetry not MQTT, one without validation not TensorFlow.js.
import type { DeviceConfig } from './config/device-config.ts';
import { targetNames } from '../runtime/cloud-telemetry/config.ts';
import { SPARKPLUG } from '../runtime/sparkplug/config.ts';
import type { ComponentFactory, DaemonContext } from './daemon-context.ts';

type Section = Exclude<keyof DeviceConfig, 'configFile'>;
type Part = Awaited<ReturnType<ComponentFactory>>;

/** A factory that builds its part only when `section` is in the config. */
function when<S extends Section>(section: S, build: (config: NonNullable<DeviceConfig[S]>, ctx: DaemonContext) => Promise<Part>): ComponentFactory {
  return async (ctx) => {
    const config = ctx.config[section];
    return config === undefined || config === null ? null : build(config as NonNullable<DeviceConfig[S]>, ctx);
  };
}

/**
 * The publishers the config has that forward the journal to a broker: each holds the records its
 * broker lacks in the journal; a hold of any other (one removed from the config) is dropped.
 */
export function journalHolds(config: DeviceConfig): string[] {
  return [...(config.sparkplug ? [SPARKPLUG] : []), ...(config.cloudTelemetry ? targetNames(config.cloudTelemetry) : [])];
}

/** What a part forwarding the journal to a broker takes from the daemon (Sparkplug, cloud telemetry). */
function journalPublisher(ctx: DaemonContext, part: string) {
  return {
    device: ctx.config.device,
    dataDir: ctx.config.dataDir,
    journal: ctx.journal,
    onCommitted: (l: Parameters<DaemonContext['onCommitted']>[0]) => ctx.onCommitted(l),
    log: ctx.log.child({ part }),
    metrics: ctx.metrics,
    board: ctx.board,
  };
}

export const componentFactories: ComponentFactory[] = [
  // first: its assessor must be in place before any source emits
  when('validation', async (config, ctx) => {
    const { ValidationComponent } = await import('../models/validation.ts');
    return new ValidationComponent({
      config,
      dataDir: ctx.config.dataDir,
      log: ctx.log.child({ part: 'validation' }),
      metrics: ctx.metrics,
      board: ctx.board,
      addAssessor: (a) => ctx.addAssessor(a),
    });
  }),
  when('gateway', async (config, ctx) => {
    const { GatewayComponent } = await import('../gateway/component.ts');
    return new GatewayComponent({
      config,
      ...(ctx.config.configFile !== undefined ? { configFile: ctx.config.configFile } : {}),
      dataDir: ctx.config.dataDir,
      emit: ctx.emit,
      statusChanged: ctx.statusChanged,
      log: ctx.log.child({ part: 'gateway' }),
      metrics: ctx.metrics,
      board: ctx.board,
      services: ctx.services,
    });
  }),
  when('uplink', async (config, ctx) => {
    const { Uplink } = await import('../runtime/uplink/uplink.ts');
    return new Uplink({
      journal: ctx.journal,
      config,
      device: ctx.config.device,
      dataDir: ctx.config.dataDir,
      log: ctx.log.child({ part: 'uplink' }),
      metrics: ctx.metrics,
      board: ctx.board,
    });
  }),
  when('alerts', async (config, ctx) => {
    const { AlertsComponent } = await import('../runtime/alerts/alerts.ts');
    const alerts = new AlertsComponent({
      config,
      device: ctx.config.device,
      dataDir: ctx.config.dataDir,
      log: ctx.log.child({ part: 'alerts' }),
      metrics: ctx.metrics,
      board: ctx.board,
      onCommitted: (l) => ctx.onCommitted(l),
      sourceStatuses: () => ctx.sourceStatuses(),
    });
    ctx.services.alertHistory = alerts.history;
    return alerts;
  }),
  when('sparkplug', async (config, ctx) => {
    const { SparkplugComponent } = await import('../runtime/sparkplug/component.ts');
    return new SparkplugComponent({ config, ...journalPublisher(ctx, 'sparkplug') });
  }),
  when('cloudTelemetry', async (config, ctx) => {
    const { CloudTelemetryComponent } = await import('../runtime/cloud-telemetry/component.ts');
    return new CloudTelemetryComponent({ config, ...journalPublisher(ctx, 'cloudTelemetry') });
  }),
  // last: its page shows what the others publish
  when('http', async (config, ctx) => {
    const { LocalHttpComponent } = await import('../runtime/http/component.ts');
    return new LocalHttpComponent(
      {
        device: ctx.config.device,
        key: ctx.key.public,
        log: ctx.log.child({ part: 'http' }),
        metrics: ctx.metrics,
        board: ctx.board,
        onCommitted: (l) => ctx.onCommitted(l),
        sourceStatuses: () => ctx.sourceStatuses(),
        journalStats: () => ctx.journal.stats(),
        downlinks: () => ctx.services.downlinks,
        alertHistory: () => ctx.services.alertHistory,
        dataDir: ctx.config.dataDir,
        journal: {
          records: (from) => ctx.journal.records(from),
          lastSeq: () => ctx.journal.stats().lastSeq,
          firstSeqSince: (ts) => ctx.journal.firstSeqSince(ts),
          flush: () => ctx.journal.flush(),
          epoch: () => ctx.journal.epoch,
        },
      },
      config,
    );
  }),
];
