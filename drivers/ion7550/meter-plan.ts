// The monitoring plan a configured meter journals (its registers, identity and calibration), and
// how long before a reading's timestamp the meter may have sampled it.
import { z } from 'zod';
import { ACCURACY_CLASS_MPE_PERCENT, energyUnitKwh, parsePlanDate, powerUnitKw, type PlanInput } from '../../protocol/plan.ts';
import { counterSpec } from './energy.ts';
import { planBlocks, type RegisterEntry } from './register-map.ts';
import type { Ion7550DriverConfig } from './config.ts';

/** The plan record's content for this driver entry, or undefined without an `mrv:` section. */
export function meterPlan(config: Ion7550DriverConfig, ts: number): PlanInput | undefined {
  const plan = config.mrv;
  if (!plan) return undefined;
  const entry = (m: string) => config.registers.find((e) => e.metric === m)!;
  const spec = (m: string) => counterSpec(entry(m), m === config.energy.counter ? config.energy.rolloverKwh : undefined);
  const power = plan.power !== undefined ? entry(plan.power) : undefined;
  return {
    kind: 'plan',
    sensor: config.id,
    ts,
    export: spec(plan.export),
    import: spec(plan.import),
    ...(power ? { power: { metric: power.metric, unit: power.unit as 'W' | 'kW' | 'MW' } } : {}),
    serial: plan.serial,
    accuracyClass: plan.accuracyClass,
    calibratedAt: plan.calibratedAt,
    calibrationDue: plan.calibrationDue,
    ...(plan.ratedKw !== undefined ? { ratedKw: plan.ratedKw } : {}),
    intervalMs: config.intervalMs,
    readWindowMs: readWindowMs(config),
  };
}

/**
 * A reading is stamped when the meter's answer arrives; the meter sampled it during the attempt
 * that succeeded, which takes at most a timeout per request of the map.
 */
export function readWindowMs(config: Ion7550DriverConfig): number {
  return config.timeoutMs * planBlocks(config.registers, config.maxGapRegisters).length;
}
