// The `drivers:` list of the device config: one schema per driver kind, told apart by `kind`.
import { z } from 'zod';
import { ion7550DriverSchema } from './ion7550/config.ts';
import { mhz19DriverSchema } from './mhz19/config.ts';
import { simulatedDriverSchema } from './simulated/config.ts';

export const driverSchema = z.discriminatedUnion('kind', [simulatedDriverSchema, mhz19DriverSchema, ion7550DriverSchema]);

export type DriverConfig = z.output<typeof driverSchema>;
