// Readings as JSON telemetry to the cloud IoT platforms in the `cloudTelemetry:` section (AWS IoT
// Core, Azure IoT Hub), each target fed from the journal with its own durable cursor (README.md).
import type { Component, StatusBoard } from '../../kernel/component.ts';
import type { JournalPublisherDeps } from '../mqtt/journal-forwarder.ts';
import type { CloudTelemetryConfig } from './config.ts';
import { cloudTelemetryMetrics } from './metrics.ts';
import { awsIotPlatform, azureIotHubPlatform } from './platforms.ts';
import { TelemetryTarget, type TargetState } from './target.ts';

export interface CloudTelemetryDeps extends JournalPublisherDeps {
  config: CloudTelemetryConfig;
  /** where the targets' state goes for the status page (`cloudTelemetry`: per target connected, acknowledgedThrough, backlog, lostToDiskBound) */
  board?: StatusBoard;
  /** the clock SAS tokens are made with */
  now?: () => number;
}

export class CloudTelemetryComponent implements Component {
  readonly name = 'cloudTelemetry';
  private readonly d: CloudTelemetryDeps;
  private targets: TelemetryTarget[] = [];
  private readonly states: Record<string, TargetState> = {};
  private shown = '';

  constructor(deps: CloudTelemetryDeps) {
    this.d = deps;
  }

  async start(): Promise<void> {
    const { config, device, dataDir, journal, log } = this.d;
    const metrics = cloudTelemetryMetrics(this.d.metrics);
    const platforms = [
      ...(config.aws ? [awsIotPlatform(config.aws, device)] : []),
      ...(config.azure ? [azureIotHubPlatform(config.azure, device, this.d.now)] : []),
    ];
    this.targets = platforms.map(
      (platform) => new TelemetryTarget({ platform, dataDir, journal, metrics, log: log.child({ target: platform.name }), report: (state) => this.show(platform.name, state) }),
    );
    for (const t of this.targets) t.start();
    this.d.onCommitted((records) => {
      for (const t of this.targets) t.live(records);
    });
  }

  /** On the board only when something changed: the backlog is reported every second. */
  private show(target: string, state: TargetState): void {
    this.states[target] = state;
    const text = JSON.stringify(this.states);
    if (text === this.shown) return;
    this.shown = text;
    this.d.board?.set('cloudTelemetry', structuredClone(this.states));
  }

  async stop(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.stop()));
  }
}
