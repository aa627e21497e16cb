// What each cloud IoT platform demands of a device's MQTT connection, and where its telemetry goes.
//   AWS IoT Core: MQTT over TLS with the thing's X.509 certificate, a client id the IoT policy
//     allows, any topic the policy allows (the operator's template), QoS 0 or 1.
//   Azure IoT Hub: MQTT 3.1.1 (protocol level 4; IoT Hub refuses MQTT 5 on this endpoint), client
//     id = device id, username `{hub}.azure-devices.net/{id}/?api-version=...`, a SAS token as the
//     password (or X.509), telemetry to `devices/{id}/messages/events/` with the message
//     properties in the topic.
// Files (certificates, keys) are read at each connection attempt: a renewed certificate is used
// without a restart, and a file gone is one clear line and another attempt later.
import type { IClientOptions } from 'mqtt';
import type { JournalRecord } from '../../protocol/records.ts';
import { readConfigFile as readFile } from '../mqtt/connection.ts';
import { AWS_IOT, AWS_MAX_TOPIC_BYTES, AZURE_IOT_HUB, type AwsIotConfig, type AzureIotHubConfig } from './config.ts';
import { deviceResource, parseSharedAccessKey, sasToken } from './sas-token.ts';

export interface Platform {
  /** 'aws-iot' | 'azure-iot-hub': names the target in the log, metrics and its cursor file */
  name: string;
  url: string;
  limits: { maxInFlight: number; replayPerSecond: number; reconnectMs: number; maxBytes: number; maxRecords: number; readChunk: number };
  /** the options of the next connection attempt */
  options(): IClientOptions;
  topicOf(record: JournalRecord): string | Error;
  /** when the credential of the connection just opened must be renewed (ms since the epoch), if ever */
  renewAt?(): number;
}

function tls(c: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined; rejectUnauthorized: boolean }, section: string): IClientOptions {
  return {
    ...(c.ca !== undefined ? { ca: readFile(c.ca, `${section}.ca`) } : {}),
    ...(c.cert !== undefined ? { cert: readFile(c.cert, `${section}.cert`) } : {}),
    ...(c.key !== undefined ? { key: readFile(c.key, `${section}.key`) } : {}),
    rejectUnauthorized: c.rejectUnauthorized,
  };
}

/** MQTT 3.1.1, a clean session: what is not acknowledged is sent again from the journal, not kept by the broker. */
function session(clientId: string, keepaliveS: number): IClientOptions {
  return { protocolVersion: 4, clientId, clean: true, keepalive: keepaliveS, connectTimeout: 10_000 };
}

/**
 * Records the backlog reads from the journal at once, at most: enough that a message per topic (per
 * sensor on AWS) fills up rather than carrying a few readings, bounded (records are a few hundred
 * bytes), and no more than half a second of `replayPerSecond`, so that the replay stays smooth.
 */
const REPLAY_CHUNK = 2000;

function limitsOf(c: AwsIotConfig | AzureIotHubConfig) {
  const readChunk = Math.max(1, Math.min(REPLAY_CHUNK, Math.floor(c.replayPerSecond / 2)));
  return { maxInFlight: c.maxInFlight, replayPerSecond: c.replayPerSecond, reconnectMs: c.reconnectMs, maxBytes: c.maxMessageBytes, maxRecords: c.maxReadingsPerMessage, readChunk };
}

/** Gap records have no sensor or metric; their topic names the journal instead. */
const GAP_LEVEL = '_journal';

/**
 * AWS IoT Core takes MQTT with a client certificate on port 443 too, when the TLS handshake names
 * the protocol with ALPN: for sites whose firewall opens only HTTPS.
 */
const AWS_ALPN_443 = ['x-amzn-mqtt-ca'];

export function awsIotPlatform(c: AwsIotConfig, device: string): Platform {
  const alpn = new URL(c.url).port === '443' ? { ALPNProtocols: AWS_ALPN_443 } : {};
  const fill = (r: JournalRecord) =>
    c.topic.replace(/\{(device|sensor|metric)\}/g, (_m, f: string) => {
      if (f === 'device') return r.device;
      return r.kind === 'reading' ? (f === 'sensor' ? r.sensor : r.metric) : GAP_LEVEL;
    });
  return {
    name: AWS_IOT,
    url: c.url,
    limits: limitsOf(c),
    options: () => ({ ...session(c.clientId ?? device, c.keepaliveS), ...tls(c, 'cloudTelemetry.aws'), ...alpn }),
    topicOf(r) {
      const topic = fill(r);
      return Buffer.byteLength(topic) > AWS_MAX_TOPIC_BYTES ? new Error(`topic over ${AWS_MAX_TOPIC_BYTES} bytes`) : topic;
    },
  };
}

/** Message properties IoT Hub reads from the topic: the body is UTF-8 JSON (lets routing query it). */
const AZURE_PROPERTIES = '$.ct=application%2Fjson&$.ce=utf-8';

/** Renew a SAS token when this share of its lifetime is gone. */
const RENEW_AT_SHARE = 0.8;

export function azureIotHubPlatform(c: AzureIotHubConfig, device: string, now: () => number = Date.now): Platform {
  const deviceId = c.deviceId ?? device;
  const host = `${c.hub}.azure-devices.net`;
  let renewAt = Number.POSITIVE_INFINITY;
  const password = (): string | undefined => {
    if (c.sharedAccessKeyFile === undefined) return undefined;
    const key = parseSharedAccessKey(readFile(c.sharedAccessKeyFile, 'cloudTelemetry.azure.sharedAccessKeyFile').toString('utf8'), c.sharedAccessKeyFile);
    const issued = now();
    const sas = sasToken(deviceResource(c.hub, deviceId), key, issued, c.sasTtlS);
    renewAt = Date.now() + (sas.expiresAt - issued) * RENEW_AT_SHARE;
    return sas.token;
  };
  const topic = `devices/${deviceId}/messages/events/${AZURE_PROPERTIES}`;
  return {
    name: AZURE_IOT_HUB,
    url: c.url ?? (c.websockets ? `wss://${host}:443/$iothub/websocket` : `mqtts://${host}:8883`),
    limits: limitsOf(c),
    options() {
      const pw = password();
      return {
        ...session(deviceId, c.keepaliveS),
        username: `${host}/${deviceId}/?api-version=${c.apiVersion}`,
        ...(pw !== undefined ? { password: pw } : {}),
        ...tls(c, 'cloudTelemetry.azure'),
      };
    },
    topicOf: () => topic,
    ...(c.sharedAccessKeyFile !== undefined ? { renewAt: () => renewAt } : {}),
  };
}
