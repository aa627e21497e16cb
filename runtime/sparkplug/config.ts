// The `sparkplug:` section of the device config: the site's MQTT broker that SCADA systems and
// historians read Sparkplug B from. Connection options follow the alerts' MQTT section.
import { z } from 'zod';
import { mqttConnectionShape } from '../mqtt/connection.ts';

/** Sparkplug group and edge node ids are MQTT topic levels: no '/', '+', '#' and no spaces. */
const topicLevel = z.string().regex(/^[^/#+\s]{1,128}$/, "must be 1-128 characters without '/', '+', '#' or spaces");

export const sparkplugSchema = z
  .strictObject({
    ...mqttConnectionShape,
    /** the Sparkplug group id; the edge node id is the device name */
    group: topicLevel,
    /**
     * QoS of births and data. 1 (default) lets the "published through" cursor advance only on the
     * broker's acknowledgement, so a broker outage loses nothing; 0 is what the Sparkplug 3.0
     * specification asks for, and loses what was in flight when the connection broke.
     */
    qos: z.union([z.literal(0), z.literal(1)]).default(1),
    /** publishes awaiting the broker's acknowledgement, at most */
    maxInFlight: z.number().int().positive().max(65_535).default(1000),
    /** readings a second sent from the journal after an outage, at most (live data is not counted) */
    replayPerSecond: z.number().int().positive().default(2000),
    /** distinct sensor/metric pairs announced, at most; readings of further ones are counted and not published */
    maxMetrics: z.number().int().positive().default(10_000),
  })
  .refine((s) => !(s.password !== undefined && s.passwordFile !== undefined), { message: 'give password or passwordFile, not both' })
  .refine((s) => (s.cert === undefined) === (s.key === undefined), { message: 'cert and key go together' });

export type SparkplugConfig = z.output<typeof sparkplugSchema>;

/** The publisher's name in the log and its hold on the journal. */
export const SPARKPLUG = 'sparkplug';
