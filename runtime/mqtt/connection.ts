// What the device's MQTT clients configured by URL share (alerts, Sparkplug): the connection keys
// of their config section, the login and TLS options read from them, and an end that does not
// hang on a dead connection.
import { readFileSync } from 'node:fs';
import type { IClientOptions, MqttClient } from 'mqtt';
import { z } from 'zod';
import { UserError } from '../../kernel/user-error.ts';

/** The connection keys of an MQTT config section, spread into its schema. */
export const mqttConnectionShape = {
  /** mqtt://, mqtts:// (TLS), ws:// or wss:// */
  url: z.string().regex(/^(mqtts?|wss?):\/\/[^\s]+$/, 'must be an mqtt://, mqtts://, ws:// or wss:// URL'),
  clientId: z.string().min(1).max(128).optional(),
  username: z.string().optional(),
  /** a password; passwordFile reads it from a file instead */
  password: z.string().optional(),
  passwordFile: z.string().optional(),
  /** TLS: CA bundle to trust, and a client certificate and key (what AWS IoT Core asks for) */
  ca: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
  rejectUnauthorized: z.boolean().default(true),
  keepaliveS: z.number().int().min(0).max(65_535).default(30),
  reconnectMs: z.number().int().positive().default(2000),
};

export type MqttConnectionConfig = z.output<z.ZodObject<typeof mqttConnectionShape>>;

/** A file the config names (a CA, a certificate, a key), or a one-line error naming the key. */
export function readConfigFile(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UserError(`${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function readOption(file: string | undefined, key: string): Buffer | undefined {
  return file === undefined ? undefined : readConfigFile(file, key);
}

/** Login, TLS and keepalive options; files are read now. `section` names the config section in errors ('alerts.mqtt'). */
export function loginAndTls(c: MqttConnectionConfig, section: string): IClientOptions {
  const password = c.passwordFile !== undefined ? readOption(c.passwordFile, `${section}.passwordFile`)!.toString('utf8').trim() : c.password;
  const ca = readOption(c.ca, `${section}.ca`);
  const cert = readOption(c.cert, `${section}.cert`);
  const key = readOption(c.key, `${section}.key`);
  return {
    keepalive: c.keepaliveS,
    connectTimeout: 10_000,
    ...(c.username !== undefined ? { username: c.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    rejectUnauthorized: c.rejectUnauthorized,
  };
}

/**
 * Disconnects. A graceful end waits until every unacknowledged message is acknowledged, which over
 * a dead connection (the broker gone, or the link cut a moment ago and not yet noticed) is never:
 * force it when not connected, and give up on it after a while.
 */
export async function endClient(client: MqttClient, waitMs = 2000): Promise<void> {
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      client.stream?.destroy();
      resolve();
    }, waitMs);
    client.end(!client.connected, {}, () => {
      clearTimeout(t);
      resolve();
    });
  });
}
