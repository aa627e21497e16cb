// What the daemon hands to each optional part of the device when it builds it (see components.ts):
// the composition root's view of the device, from which each factory picks what its part needs.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Assessor, Component, DaemonServices, StatusBoard } from '../kernel/component.ts';
import type { DriverStatus } from '../kernel/source.ts';
import type { JournalRecord, ReadingInput } from '../protocol/records.ts';
import type { DeviceKey } from '../protocol/signature.ts';
import type { Journal } from '../runtime/journal/journal.ts';
import type { DeviceConfig } from './config/device-config.ts';

export interface DaemonContext {
  config: DeviceConfig;
  log: Logger;
  metrics: Registry;
  journal: Journal;
  key: DeviceKey;
  /** Where sources hand readings (drivers get it through their DriverContext). */
  emit(reading: ReadingInput): void;
  /** Called after records are durable, in seq order: alerts, live telemetry, the dashboard. */
  onCommitted(listener: (records: readonly JournalRecord[]) => void): void;
  /** Add an assessor to the validation chain (models/ does). */
  addAssessor(assessor: Assessor): void;
  /** Latest status of every source, for the dashboard and MQTT status. */
  sourceStatuses(): DriverStatus[];
  statusChanged(status: DriverStatus): void;
  /** A shared board of facts parts publish for others (last sync, alerts, anchors): see status-board.ts. */
  board: StatusBoard;
  /** Services parts offer each other, set by the part that provides them (the gateway: downlinks). */
  services: DaemonServices;
}

/** Builds a part from its config section, or null when the config has none. */
export type ComponentFactory = (ctx: DaemonContext) => Component | null | Promise<Component | null>;
