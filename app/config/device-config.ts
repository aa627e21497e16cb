// The device config (`fieldproof run --config device.yaml`). Each section's schema lives with the
// code that uses it; this file only assembles them and resolves paths.
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { driverSchema } from '../../drivers/config.ts';
import { validationSchema } from '../../models/config.ts';
import { alertsSchema } from '../../runtime/alerts/config.ts';
import { httpSchema } from '../../runtime/http/config.ts';
import { sparkplugSchema } from '../../runtime/sparkplug/config.ts';
import { cloudTelemetrySchema, type CloudTelemetryConfig } from '../../runtime/cloud-telemetry/config.ts';
import { gatewaySchema } from '../../gateway/config.ts';
import { isValidName } from '../../protocol/records.ts';
import { uplinkSchema } from '../../runtime/uplink/config.ts';
import { batchSchema, journalSchema } from '../../runtime/journal/config.ts';
import { loadYamlConfig } from '../../kernel/config/load.ts';
import { ConfigError } from '../../kernel/config/errors.ts';

/**
 * An optional section whose keys are all commented out (`uplink:` and nothing under it) is YAML null:
 * read it as the section left out, which is what the operator meant.
 */
function absentWhenEmpty<S extends z.ZodType>(schema: S) {
  return z.preprocess((v) => (v === null ? undefined : v), schema.optional());
}

export const deviceConfigSchema = z.strictObject({
  device: z.string().refine(isValidName, 'must be 1-128 letters, digits, dot, dash, colon or underscore'),
  dataDir: z.string().min(1).optional(),
  drivers: z.array(driverSchema).default([]),
  batch: batchSchema.default(batchSchema.parse({})),
  journal: journalSchema.default(journalSchema.parse({})),
  uplink: absentWhenEmpty(uplinkSchema),
  /** the local status page, /metrics and /healthz; absent: no HTTP server */
  http: absentWhenEmpty(httpSchema),
  /** LoRaWAN nodes heard through Semtech UDP packet forwarders; absent: no gateway */
  gateway: absentWhenEmpty(gatewaySchema),
  /** rules and the anomaly model every reading is checked by; on with defaults when absent */
  validation: validationSchema.default(validationSchema.parse({})),
  /** alerts from flagged readings, over MQTT and a webhook; absent: no alerts */
  alerts: absentWhenEmpty(alertsSchema),
  /** readings as Sparkplug B on the site's MQTT broker, for SCADA systems and historians; absent: none */
  sparkplug: absentWhenEmpty(sparkplugSchema),
  /** readings as JSON telemetry to AWS IoT Core and/or Azure IoT Hub; absent: none */
  cloudTelemetry: absentWhenEmpty(cloudTelemetrySchema),
}).superRefine((c, ctx) => {
  const problem = sensorNameClash(c.drivers, c.gateway?.devices ?? []);
  if (problem) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
});

/** A source of readings and the sensor names it may give them. */
interface SensorSource {
  path: (string | number)[];
  id: string;
  /** its sensors are `<id>-<n>`, n a number (simulated sensors; a LoRaWAN device's Cayenne LPP channels and normalized measurements) */
  numbered: boolean;
  /** its sensor is `<id>` itself (every kind but the simulated driver) */
  plain: boolean;
}

/**
 * Two sources whose sensor names can meet: the same id, or one whose numbered sensors (`meter-1`)
 * are another's name. A LoRaWAN node is in the field, its keys in its flash: under such a config
 * one taken apart could journal readings under the name of the revenue meter's sensor, which the
 * journal, the sink and the MRV report cannot tell from the meter's own.
 */
function sensorNameClash(drivers: { kind: string; id: string }[], lorawan: { id: string }[]): { path: (string | number)[]; message: string } | null {
  const all: SensorSource[] = [
    ...drivers.map((d, i) => ({ path: ['drivers', i, 'id'], id: d.id, numbered: d.kind === 'simulated', plain: d.kind !== 'simulated' })),
    ...lorawan.map((d, i) => ({ path: ['gateway', 'devices', i, 'id'], id: d.id, numbered: true, plain: true })),
  ];
  const where = (s: SensorSource) => s.path.slice(0, -1).join('.');
  for (let i = 0; i < all.length; i++) {
    for (let j = 0; j < i; j++) {
      const [a, b] = [all[j]!, all[i]!];
      if (a.id === b.id) return { path: b.path, message: `${b.id} is also the id of ${where(a)}: their readings would share sensor names` };
      for (const [x, y] of [[a, b], [b, a]] as const) {
        if (x.numbered && y.plain && y.id.startsWith(`${x.id}-`) && /^\d+$/.test(y.id.slice(x.id.length + 1))) {
          return { path: b.path, message: `sensor ${y.id} of ${where(y)} is also a name ${where(x)} (${x.id}) gives its numbered sensors (${x.id}-<n>): rename one` };
        }
      }
    }
  }
  return null;
}

export type DeviceConfigInput = z.input<typeof deviceConfigSchema>;
export type DeviceConfig = Omit<z.output<typeof deviceConfigSchema>, 'dataDir'> & { dataDir: string; configFile?: string };

/**
 * Paths: an explicit dataDir wins; under a snap it defaults to $SNAP_DATA. Relative paths are
 * taken from the config file's folder, as a user reading the file would expect.
 */
export function resolveDeviceConfig(raw: z.output<typeof deviceConfigSchema>, baseDir: string, file?: string): DeviceConfig {
  const dataDir = raw.dataDir ?? process.env.SNAP_DATA;
  if (!dataDir) throw new ConfigError(`${file ?? 'config'}: dataDir: required (or run under a snap, where it defaults to $SNAP_DATA)`);
  const cloudTelemetry = raw.cloudTelemetry && resolveFiles(raw.cloudTelemetry, baseDir);
  return {
    ...raw,
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(baseDir, dataDir),
    ...(cloudTelemetry ? { cloudTelemetry } : {}),
    ...(file ? { configFile: file } : {}),
  };
}

/** The certificate and key files of the cloud telemetry targets, relative to the config file's folder. */
function resolveFiles(c: CloudTelemetryConfig, baseDir: string): CloudTelemetryConfig {
  const at = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(baseDir, p));
  const files = <T extends Record<string, unknown>>(t: T, keys: string[]): T => {
    const out: Record<string, unknown> = { ...t };
    for (const k of keys) if (typeof out[k] === 'string') out[k] = at(out[k] as string);
    return out as T;
  };
  return {
    ...(c.aws ? { aws: files(c.aws, ['ca', 'cert', 'key']) } : {}),
    ...(c.azure ? { azure: files(c.azure, ['ca', 'cert', 'key', 'sharedAccessKeyFile']) } : {}),
  };
}

export function loadDeviceConfig(file: string): DeviceConfig {
  const raw = loadYamlConfig(file, deviceConfigSchema);
  return resolveDeviceConfig(raw, resolve(file, '..'), file);
}
