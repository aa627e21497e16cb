// The `cloudTelemetry:` section of the device config: the readings as JSON telemetry to the cloud
// IoT platforms building operators use, AWS IoT Core (`aws:`) and Azure IoT Hub (`azure:`), each
// with the limits that platform sets (see README.md).
import { z } from 'zod';

/** AWS IoT Core: payload at most 128 KiB, topic at most 256 bytes with at most 7 slashes, 100 publishes in flight. */
export const AWS_MAX_MESSAGE_BYTES = 128 * 1024;
export const AWS_MAX_TOPIC_BYTES = 256;
const AWS_MAX_TOPIC_SLASHES = 7;
const AWS_MAX_IN_FLIGHT = 100;
/** Azure IoT Hub: a device-to-cloud message at most 256 KiB, its properties included. */
export const AZURE_MAX_MESSAGE_BYTES = 256 * 1024;
/** room left in an IoT Hub message for its system properties and the topic's property bag */
const AZURE_PROPERTY_ROOM = 1024;

export const TOPIC_FIELDS = ['device', 'sensor', 'metric'] as const;

/** How each target forwards the journal. */
const forwarding = {
  /** reconnect after this long, backing off to a minute while the platform stays away */
  reconnectMs: z.number().int().positive().default(2000),
  keepaliveS: z.number().int().min(30).max(1200).default(60),
  /** readings in one message, at most (a JSON array; the platform's size limit also holds) */
  maxReadingsPerMessage: z.number().int().positive().max(10_000).default(100),
  /** readings a second sent from the journal after an outage, at most (live readings are not counted) */
  replayPerSecond: z.number().int().positive().default(1000),
  /** TLS: the CA to trust for the platform's certificate; the system's CAs when absent */
  ca: z.string().optional(),
  rejectUnauthorized: z.boolean().default(true),
};

const mqttsUrl = z.string().regex(/^mqtts:\/\/[^\s/]+(:\d+)?\/?$/, 'must be mqtts://host[:port] (both platforms demand TLS)');
/** IoT Hub also takes MQTT over WebSockets on port 443, for sites whose firewall opens only HTTPS */
const azureUrl = z.string().regex(/^(mqtts:\/\/[^\s/]+(:\d+)?\/?|wss:\/\/[^\s/]+(:\d+)?\/\S*)$/, 'must be mqtts://host[:port] or wss://host[:port]/path (IoT Hub demands TLS)');

function checkTopicTemplate(t: string, ctx: z.RefinementCtx): void {
  const unknown = [...t.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!).filter((f) => !(TOPIC_FIELDS as readonly string[]).includes(f));
  if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `unknown field {${unknown[0]}}; use ${TOPIC_FIELDS.map((f) => `{${f}}`).join(', ')}` });
  if (/[#+\s]/.test(t) || t.startsWith('$') || t.startsWith('/') || t.endsWith('/') || t.includes('//')) {
    ctx.addIssue({ code: 'custom', message: "must be levels without '#', '+' or spaces, not starting with '$' or '/' and without empty levels" });
  }
  if ((t.match(/\//g) ?? []).length > AWS_MAX_TOPIC_SLASHES) ctx.addIssue({ code: 'custom', message: `AWS IoT allows at most ${AWS_MAX_TOPIC_SLASHES} '/' in a topic` });
  if (Buffer.byteLength(t.replace(/\{[a-z]+\}/g, '')) > AWS_MAX_TOPIC_BYTES) ctx.addIssue({ code: 'custom', message: `AWS IoT allows at most ${AWS_MAX_TOPIC_BYTES} bytes in a topic` });
}

export const awsIotSchema = z.strictObject({
  /**
   * the account's device data endpoint: mqtts://xxxxxxxx-ats.iot.REGION.amazonaws.com:8883, or
   * port 443 (ALPN x-amzn-mqtt-ca) for sites whose firewall opens only HTTPS
   */
  url: mqttsUrl,
  /** the MQTT client id (an IoT policy usually allows only the thing name); the device name when absent */
  clientId: z.string().min(1).max(128).optional(),
  /** the thing's X.509 certificate and private key (PEM files) */
  cert: z.string(),
  key: z.string(),
  /** where readings go; {device}, {sensor} and {metric} are filled in per reading */
  topic: z.string().min(1).superRefine(checkTopicTemplate).default('fieldproof/{device}/{sensor}'),
  maxMessageBytes: z.number().int().min(1024).max(AWS_MAX_MESSAGE_BYTES).default(AWS_MAX_MESSAGE_BYTES),
  /** QoS 1 publishes awaiting PUBACK, at most (AWS IoT allows 100 per connection) */
  maxInFlight: z.number().int().positive().max(AWS_MAX_IN_FLIGHT).default(AWS_MAX_IN_FLIGHT),
  ...forwarding,
});

export const azureIotHubSchema = z
  .strictObject({
    /** the IoT hub's name: HUB in HUB.azure-devices.net */
    hub: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{1,48}[A-Za-z0-9]$/, 'must be the hub name (3-50 letters, digits, dashes), not its host name'),
    /** the device's id in the hub; the device name when absent */
    deviceId: z.string().regex(/^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/, "must be an IoT Hub device id (1-128 letters, digits, - . % _ * ? ! ( ) , : = @ $ ')").optional(),
    /** MQTT over WebSockets on port 443 (wss://HUB.azure-devices.net:443/$iothub/websocket) rather than 8883 */
    websockets: z.boolean().default(false),
    /** mqtts://HUB.azure-devices.net:8883 when absent (another host: an IoT Edge gateway, a test broker); wss:// for WebSockets */
    url: azureUrl.optional(),
    /** a file holding the device's shared access key (base64, as the portal shows it): SAS tokens are made from it */
    sharedAccessKeyFile: z.string().optional(),
    /** or X.509: the device's certificate and private key (PEM files) registered with the hub */
    cert: z.string().optional(),
    key: z.string().optional(),
    /** how long a SAS token is valid; a new one is made, with a reconnect, before it expires */
    sasTtlS: z.number().int().min(120).max(366 * 86_400).default(3600),
    apiVersion: z.string().regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/).default('2021-04-12'),
    maxMessageBytes: z.number().int().min(1024).max(AZURE_MAX_MESSAGE_BYTES - AZURE_PROPERTY_ROOM).default(AZURE_MAX_MESSAGE_BYTES - AZURE_PROPERTY_ROOM),
    maxInFlight: z.number().int().positive().max(1000).default(100),
    ...forwarding,
  })
  .refine((a) => (a.cert === undefined) === (a.key === undefined), { message: 'cert and key go together' })
  .refine((a) => (a.sharedAccessKeyFile === undefined) !== (a.cert === undefined), { message: 'give sharedAccessKeyFile (SAS) or cert and key (X.509), one of them' });

export const cloudTelemetrySchema = z
  .strictObject({
    aws: awsIotSchema.optional(),
    azure: azureIotHubSchema.optional(),
  })
  .refine((c) => c.aws !== undefined || c.azure !== undefined, { message: 'give aws:, azure: or both' });

export type CloudTelemetryConfig = z.output<typeof cloudTelemetrySchema>;

/** The targets' names: in the log, the metrics, their cursor files and their holds on the journal. */
export const AWS_IOT = 'aws-iot';
export const AZURE_IOT_HUB = 'azure-iot-hub';

/** The targets the section configures, by name. */
export function targetNames(c: CloudTelemetryConfig): string[] {
  return [...(c.aws ? [AWS_IOT] : []), ...(c.azure ? [AZURE_IOT_HUB] : [])];
}
export type AwsIotConfig = z.output<typeof awsIotSchema>;
export type AzureIotHubConfig = z.output<typeof azureIotHubSchema>;
