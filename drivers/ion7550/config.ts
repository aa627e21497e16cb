import { z } from 'zod';
import { pollTimingShape } from '../poll/timing-config.ts';
import { FACTORY_MAP, mapProblem, registerSchema } from './register-map.ts';
import { meterPlanSchema, meterPlanProblem } from './plan-config.ts';

const tcp = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(502),
});

const rtu = z.strictObject({
  /** the RS-485 adapter, e.g. /dev/ttyUSB0 */
  port: z.string().min(1),
  baudRate: z.number().int().positive().default(19200),
  parity: z.enum(['none', 'even', 'odd']).default('none'),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
});

const energy = z.strictObject({
  /** the map entry holding the kWh-delivered counter */
  counter: z.string().min(1).default('energy_delivered_kwh'),
  /** the counter value (kWh) at which the meter wraps to zero; default: the largest its register type holds */
  rolloverKwh: z.number().positive().optional(),
  /**
   * a device-side estimate for the live dashboard only: avoided_co2e_kg = energy_interval_kwh x
   * this. MRV reports never use it; they take the grid factor, with its provenance, from the sink.
   */
  emissionFactorKgPerKwh: z.number().min(0).max(5).optional(),
});

export const ion7550DriverSchema = z
  .strictObject({
    kind: z.literal('ion7550'),
    id: z.string().min(1),
    /** Modbus TCP (the meter's Ethernet port or a gateway) ... */
    tcp: tcp.optional(),
    /** ... or Modbus RTU on RS-485 */
    rtu: rtu.optional(),
    /** Modbus unit id (ION default on Ethernet: 100) */
    unit: z.number().int().min(0).max(255).default(100),
    ...pollTimingShape,
    /** the meter's Modbus map; the ION7550 factory map when absent */
    registers: z.array(registerSchema).min(1).default(() => FACTORY_MAP.map((e) => ({ ...e }))),
    /** unmapped registers a single request may read across to join two runs (0: contiguous only) */
    maxGapRegisters: z.number().int().min(0).max(123).default(64),
    energy: energy.default(() => energy.parse({})),
    /** the meter's monitoring plan: which registers the MRV report credits, and the meter's identity */
    mrv: meterPlanSchema.optional(),
  })
  .superRefine((c, ctx) => {
    if (!c.tcp === !c.rtu) ctx.addIssue({ code: 'custom', message: 'set exactly one of tcp or rtu', path: [] });
    const problem = mapProblem(c.registers);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['registers'] });
    if (!c.registers.some((e) => e.metric === c.energy.counter) && c.energy.counter !== 'energy_delivered_kwh') {
      ctx.addIssue({ code: 'custom', message: `no register entry has metric ${c.energy.counter}`, path: ['energy', 'counter'] });
    }
    const plan = c.mrv ? meterPlanProblem(c.mrv, c.registers) : null;
    if (plan) ctx.addIssue({ code: 'custom', message: plan.message, path: ['mrv', ...plan.path] });
  });

export type Ion7550DriverConfig = z.output<typeof ion7550DriverSchema>;
