import { z } from 'zod';

const fault = z.strictObject({
  kind: z.enum(['spike', 'stuck', 'drift', 'dropout']),
  /** sensors the fault applies to, by index from 1; all when absent */
  sensors: z.array(z.number().int().positive()).optional(),
  /** probability per reading of starting the fault (spike: of one spike) */
  rate: z.number().min(0).max(1).default(0.001),
  /** how many readings a stuck value or dropout lasts */
  length: z.number().int().positive().default(50),
  /** spike height or drift per reading, in the signal's unit */
  magnitude: z.number().default(0),
});

export const simulatedDriverSchema = z.strictObject({
  kind: z.literal('simulated'),
  id: z.string().min(1),
  sensors: z.number().int().positive().max(100_000).default(1),
  intervalMs: z.number().int().positive().default(1000),
  /** what the sensors measure: a CO2 room signal, a PV power curve or a temperature cycle */
  signal: z.enum(['co2', 'power', 'temperature']).default('co2'),
  seed: z.number().int().optional(),
  faults: z.array(fault).default([]),
});

export type SimulatedDriverConfig = z.output<typeof simulatedDriverSchema>;
export type SimulatedFault = z.output<typeof fault>;
