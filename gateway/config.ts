// The `gateway:` section of the device config: where to listen for packet forwarders, the radio
// region, and the LoRaWAN devices this site serves (ABP with fixed session keys, OTAA with a root
// key), each with its payload codec.
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { isValidName } from '../protocol/records.ts';
import { ConfigError } from '../kernel/config/errors.ts';
import { isLoopback } from '../kernel/net.ts';
import { REGIONS } from './lorawan/region.ts';

const hex = (bytes: number, what: string) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `${what} must be ${bytes * 2} hex digits`)
    .transform((s) => s.toLowerCase());

export const DEFAULT_GATEWAY_LISTEN = '127.0.0.1:1700';

export const BUILTIN_CODECS = ['cayenne-lpp'] as const;

const deviceId = z.string().refine(isValidName, 'must be 1-128 letters, digits, dot, dash, colon or underscore');
const codec = z.string().min(1).default('cayenne-lpp');
/**
 * What the codec gets as `input.variables` (ChirpStack's device variables): text by name. Numbers
 * and booleans written in YAML are passed as their text, as ChirpStack stores them.
 */
const codecVariables = z
  .record(z.string().regex(/^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/, 'variable names are identifiers of at most 64 characters'), z.union([z.string().max(1024), z.number(), z.boolean()]).transform(String))
  .refine((v) => Object.keys(v).length <= 64, 'at most 64 codec variables')
  .default({});

const abpDevice = z.strictObject({
  id: deviceId,
  activation: z.literal('abp'),
  devAddr: hex(4, 'devAddr'),
  nwkSKey: hex(16, 'nwkSKey'),
  appSKey: hex(16, 'appSKey'),
  codec,
  codecVariables,
});

const otaaDevice = z.strictObject({
  id: deviceId,
  activation: z.literal('otaa'),
  devEui: hex(8, 'devEui'),
  joinEui: hex(8, 'joinEui'),
  appKey: hex(16, 'appKey'),
  codec,
  codecVariables,
});

export const lorawanDeviceSchema = z.discriminatedUnion('activation', [abpDevice, otaaDevice]);

/** `host:port`, `[v6]:port` or a bare port (all interfaces). */
export function parseListen(listen: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(listen) ?? /^()()(\d{1,5})$/.exec(listen);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  const host = m[1] || m[2] || '0.0.0.0';
  return { host, port };
}

export const gatewaySchema = z
  .strictObject({
    /**
     * Semtech UDP. Loopback by default (a packet forwarder on this machine); any other address
     * (0.0.0.0:1700 for forwarders on the site network) needs the `gateways` allow-list, because
     * the protocol carries no authentication and anyone who can reach the port can claim any EUI
     */
    listen: z.string().default(DEFAULT_GATEWAY_LISTEN).refine((s) => parseListen(s) !== null, 'must be host:port, e.g. 127.0.0.1:1700'),
    region: z.enum(Object.keys(REGIONS) as [keyof typeof REGIONS, ...(keyof typeof REGIONS)[]]).default('EU868'),
    /** NetID given to OTAA devices; 000000 is the one for private networks */
    netId: hex(3, 'netId')
      .default('000000')
      .refine((h) => parseInt(h, 16) <= 0x3f, 'only type 0 NetIDs (000000 to 00003f) are supported'),
    /** seconds from an uplink to its RX1 window, told to OTAA devices in the JoinAccept */
    rx1Delay: z.number().int().min(1).max(15).default(1),
    /** which window downlinks (ACKs, JoinAccepts) use first; the other is tried when the gateway refuses */
    downlinkWindow: z.enum(['rx1', 'rx2']).default('rx1'),
    /** dBm for downlinks; the gateway caps it to what it may emit */
    txPower: z.number().int().min(0).max(36).default(14),
    /** accept packet forwarders with these EUIs only (any when absent; required beyond loopback) */
    gateways: z.array(hex(8, 'gateway EUI')).min(1, 'list at least one gateway EUI, or leave the key out on loopback').optional(),
    /**
     * A gateway's downlink path stays with the address of its first PULL_DATA until no PULL_DATA
     * has come from there for this long: a PULL_DATA from elsewhere meanwhile is ignored, so that
     * a spoofed one cannot divert downlinks. Default: three keepalives of the reference forwarder (10 s)
     */
    downlinkPinMs: z.number().int().min(1000).max(3_600_000).default(30_000),
    /** datagrams read but not yet decoded, in bytes; beyond it new ones are dropped (and counted) */
    maxQueueBytes: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(32 * 1024 * 1024),
    /** per uplink, for JavaScript codecs */
    codecTimeoutMs: z.number().int().min(1).max(10_000).default(100),
    /** heap of each JavaScript codec's engine, MiB */
    codecMemoryMiB: z.number().int().min(1).max(256).default(16),
    /** kernel UDP receive buffer, bytes: room for bursts while the event loop is busy */
    recvBufferBytes: z.number().int().min(65_536).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
    /**
     * nice value of the thread that answers PUSH_DATA, so that its acks do not wait for a core
     * behind decoding and journaling; absent, it runs at the daemon's priority. Below 0 needs
     * CAP_SYS_NICE (root outside the snap; the snap runs unprivileged and cannot), and where it is
     * refused the thread keeps the daemon's priority and a warning says so
     */
    socketThreadNice: z.number().int().min(-20).max(19).optional(),
    devices: z.array(lorawanDeviceSchema).default([]),
  })
  .superRefine((g, ctx) => {
    const listen = parseListen(g.listen);
    if (listen && !isLoopback(listen.host) && g.gateways === undefined) {
      ctx.addIssue({ code: 'custom', path: ['gateways'], message: `required when listen is not a loopback address (listen is ${g.listen}): the EUIs of the packet forwarders to accept` });
    }
    const seen = new Map<string, number>();
    g.devices.forEach((d, i) => {
      const checks: [string, string][] = [['id', d.id]];
      if (d.activation === 'abp') checks.push(['devAddr', d.devAddr]);
      else checks.push(['devEui', d.devEui]);
      for (const [field, value] of checks) {
        const key = `${field}:${value}`;
        const first = seen.get(key);
        if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['devices', i, field], message: `same ${field} as devices.${first}` });
        else seen.set(key, i);
      }
    });
  });

export type GatewayConfig = z.output<typeof gatewaySchema>;
export type LorawanDeviceConfig = z.output<typeof lorawanDeviceSchema>;

/** A device's codec after resolution: a built-in name or an absolute path to a JavaScript file. */
export type CodecRef = { kind: 'builtin'; name: (typeof BUILTIN_CODECS)[number] } | { kind: 'file'; path: string };

/**
 * Resolve codec paths against the config file's folder (as a user reading the file expects) and
 * check that they exist: a missing codec is a config error at start, not a surprise at the first uplink.
 */
export function resolveCodecs(g: GatewayConfig, configFile?: string): Map<string, CodecRef> {
  const base = configFile ? dirname(resolve(configFile)) : process.cwd();
  const where = configFile ?? 'config';
  const out = new Map<string, CodecRef>();
  g.devices.forEach((d, i) => {
    if ((BUILTIN_CODECS as readonly string[]).includes(d.codec)) {
      out.set(d.id, { kind: 'builtin', name: d.codec as (typeof BUILTIN_CODECS)[number] });
      return;
    }
    const path = isAbsolute(d.codec) ? d.codec : resolve(base, d.codec);
    if (!existsSync(path) || !statSync(path).isFile()) {
      throw new ConfigError(`${where}: gateway.devices.${i}.codec: ${d.codec} is neither ${BUILTIN_CODECS.join(' nor ')} nor an existing file (looked for ${path})`);
    }
    out.set(d.id, { kind: 'file', path });
  });
  return out;
}
