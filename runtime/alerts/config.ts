// The `alerts:` section of the device config: where alerts go (MQTT, a webhook) and how they
// behave (severity per flag, hysteresis, repeat).
import { z } from 'zod';
import { mqttConnectionShape } from '../mqtt/connection.ts';

const severity = z.enum(['info', 'warning', 'critical']);

/**
 * Azure IoT Hub takes MQTT 3.1.1 only and no topics but its own (device-to-cloud messages on
 * `devices/{id}/messages/events/`): alerts, MQTT 5 with topics of their own, cannot go there.
 */
const IOT_HUB_HOST = /^(mqtts?|wss?):\/\/([^/@]*@)?[^/:]+\.azure-devices\.net([:/]|$)/i;

const mqttSchema = z
  .strictObject({
    ...mqttConnectionShape,
    /** topics are <topicPrefix>/<device>/... */
    topicPrefix: z.string().regex(/^[^#+\s]+$/, 'must not contain #, + or spaces').default('fieldproof'),
  })
  .refine((m) => !IOT_HUB_HOST.test(m.url), {
    message: 'Azure IoT Hub takes only MQTT 3.1.1 and its own device-to-cloud topic, not the MQTT 5 topics alerts use; send readings there with cloudTelemetry.azure',
    path: ['url'],
  });

const webhookSchema = z.strictObject({
  url: z.url(),
  headers: z.record(z.string(), z.string()).default({}),
  timeoutMs: z.number().int().positive().default(5000),
  /** events waiting for delivery while the endpoint is down; the oldest are dropped (and counted) beyond */
  maxQueued: z.number().int().positive().default(1000),
});

export const alertsSchema = z
  .strictObject({
    mqtt: mqttSchema.optional(),
    webhook: webhookSchema.optional(),
    /** severity per flag, over the defaults (out_of_range critical, anomaly warning, ...) */
    severity: z.record(z.string(), severity).default({}),
    /** flags that never raise an alert */
    ignore: z.array(z.string()).default([]),
    /** flagged readings in a row before an alert is raised */
    raiseAfter: z.number().int().positive().default(1),
    /** clean readings in a row before it is cleared */
    clearAfter: z.number().int().positive().default(10),
    /** a stream silent for this many of its usual intervals raises stream_silent (0 = off) */
    silentFactor: z.number().min(0).default(10),
    /** how often silence and source states are checked */
    checkMs: z.number().int().positive().default(1000),
    /** alerts kept in the history (the device page's table, alerts-history.json in the data dir), the newest */
    historySize: z.number().int().positive().max(10_000).default(500),
  })
  .refine((a) => !(a.mqtt?.password !== undefined && a.mqtt?.passwordFile !== undefined), { message: 'mqtt: give password or passwordFile, not both', path: ['mqtt'] })
  .refine((a) => (a.mqtt?.cert === undefined) === (a.mqtt?.key === undefined), { message: 'mqtt: cert and key go together', path: ['mqtt'] });

export type AlertsConfig = z.output<typeof alertsSchema>;
export type MqttConfig = z.output<typeof mqttSchema>;
export type WebhookConfig = z.output<typeof webhookSchema>;
export type Severity = z.output<typeof severity>;
