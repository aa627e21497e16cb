// The `drivers:` list of the device config: one schema per driver kind, told apart by `kind`.
import { z } from 'zod';
import { simulatedDriverSchema } from './simulated/config.ts';

export const driverSchema = z.discriminatedUnion('kind', [simulatedDriverSchema]);

export type DriverConfig = z.output<typeof driverSchema>;
