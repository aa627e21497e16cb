// From `snap set fieldproof ...` options to the daemon's device.yaml, and back for error messages.
//
// Snap option names are lowercase with dashes (snapd refuses capitals), the config file uses
// camelCase: `snap set fieldproof batch.max-records=200` becomes `batch: {maxRecords: 200}`.
// A key is converted only when a letter follows each dash, so names such as `co2-1` (sensor ids
// used as keys) pass through unchanged. Every top-level section of the device config can be set,
// including lists as JSON: `snap set fieldproof drivers='[{"kind":"simulated","id":"sim"}]'`.
import { z } from 'zod';
import { deviceConfigSchema } from '../../app/config/device-config.ts';

/** options that are not part of device.yaml */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Who the daemon runs as. `auto`: snap_daemon, unless a driver needs a serial port, which the
 * unprivileged user cannot open (the device node is root:dialout, and the sandbox lets a snap
 * clear its supplementary groups but not join dialout); see README.md.
 */
export const DAEMON_USER_CHOICES = ['auto', 'snap_daemon', 'root'] as const;
export type DaemonUser = 'snap_daemon' | 'root';

const CONVERTIBLE = /^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)+$/;

export function kebabToCamel(key: string): string {
  return CONVERTIBLE.test(key) ? key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()) : key;
}

export function camelToKebab(key: string): string {
  return /^[a-z][a-zA-Z0-9]*$/.test(key) ? key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()) : key;
}

/** The top-level snap options this snap reads: one per device config section, and log-level. */
export function optionNames(): string[] {
  const sections = Object.keys((deviceConfigSchema as unknown as { shape: Record<string, unknown> }).shape).filter((k) => k !== 'dataDir');
  return [...sections.map(camelToKebab), 'log-level', 'daemon-user'];
}

function convertKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(convertKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[kebabToCamel(k)] = convertKeys(v);
    return out;
  }
  return value;
}

export class SnapOptionError extends Error {
  override name = 'SnapOptionError';
}

export interface SnapSettings {
  /** what device.yaml will say, validated */
  config: z.input<typeof deviceConfigSchema>;
  logLevel: LogLevel;
  daemonUser: DaemonUser;
}

/**
 * Options as `snapctl get -d -t` prints them (unset ones are null) to a validated device config.
 * dataDir is not an option: under strict confinement the daemon can only write in the snap's own
 * folders, and the journal belongs in $SNAP_COMMON (see README.md).
 */
export function settingsFromOptions(options: Record<string, unknown>, dataDir: string): SnapSettings {
  const raw: Record<string, unknown> = {};
  let logLevel: LogLevel = 'info';
  let userChoice: (typeof DAEMON_USER_CHOICES)[number] = 'auto';
  for (const [name, value] of Object.entries(options)) {
    if (value === null || value === '') continue;
    if (name === 'log-level') {
      if (!LOG_LEVELS.includes(value as LogLevel)) throw new SnapOptionError(`log-level: must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
      logLevel = value as LogLevel;
      continue;
    }
    if (name === 'daemon-user') {
      if (!DAEMON_USER_CHOICES.includes(value as DaemonUser)) throw new SnapOptionError(`daemon-user: must be one of ${DAEMON_USER_CHOICES.join(', ')}, got ${JSON.stringify(value)}`);
      userChoice = value as (typeof DAEMON_USER_CHOICES)[number];
      continue;
    }
    if (name === 'data-dir') throw new SnapOptionError(`data-dir: cannot be set; the snap keeps its data in ${dataDir}`);
    raw[kebabToCamel(name)] = convertKeys(value);
  }
  if (raw.device === undefined) throw new SnapOptionError('device: required; snap set fieldproof device=NAME (letters, digits, . - : _)');
  // The status page is always on under the snap: a technician on site needs it most when nothing else works.
  if (raw.http === undefined) raw.http = {};
  raw.dataDir = dataDir;
  const result = deviceConfigSchema.safeParse(raw);
  if (!result.success) throw new SnapOptionError(describeIssue(result.error));
  const config = raw as z.input<typeof deviceConfigSchema>;
  const daemonUser: DaemonUser = userChoice === 'auto' ? (serialPortsOf(config).length > 0 ? 'root' : 'snap_daemon') : userChoice;
  return { config, logLevel, daemonUser };
}

/** The serial ports the configured drivers open (MH-Z19s, ION7550s over Modbus RTU). */
export function serialPortsOf(config: z.input<typeof deviceConfigSchema>): string[] {
  const ports: string[] = [];
  for (const d of config.drivers ?? []) {
    if (d.kind === 'mhz19') ports.push(d.port);
    else if (d.kind === 'ion7550' && d.rtu) ports.push(d.rtu.port);
  }
  return ports;
}

/** One line in the operator's terms: the option path as `snap set` spells it. */
function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid options';
  const path = issue.path.map((p) => (typeof p === 'string' ? camelToKebab(p) : String(p))).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = path ? `${path}.` : '';
    return `unknown option ${issue.keys.map((k) => where + camelToKebab(k)).join(', ')}`;
  }
  return `${path || '(options)'}: ${issue.message}`;
}

/** A default device name from the host name, made into a valid one. */
export function defaultDeviceName(hostname: string): string {
  const cleaned = hostname.toLowerCase().replace(/[^a-z0-9._:-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 100);
  return cleaned ? cleaned : 'fieldproof-device';
}
