import { z } from 'zod';
import { pollTimingShape } from '../poll/timing-config.ts';
import { RANGES } from './protocol.ts';

export const mhz19DriverSchema = z.strictObject({
  kind: z.literal('mhz19'),
  id: z.string().min(1),
  /** the serial port, e.g. /dev/ttyAMA0 or /dev/serial/by-id/usb-... */
  port: z.string().min(1),
  ...pollTimingShape,
  intervalMs: z.number().int().min(10).default(5000),
  /** lamp warm-up after power-on; readings in this window are flagged warming_up */
  warmupMs: z.number().int().min(0).default(180_000),
  /** the detection range set in the sensor; readings above it are flagged out_of_range */
  rangePpm: z.union(RANGES.map((r) => z.literal(r)) as [z.ZodLiteral<2000>, z.ZodLiteral<5000>, z.ZodLiteral<10000>]).default(5000),
  /** date of the last zero/span calibration (ISO 8601); drives the calibration-age deduction */
  calibratedAt: z.iso.date().or(z.iso.datetime()).optional(),
});

export type Mhz19DriverConfig = z.output<typeof mhz19DriverSchema>;
