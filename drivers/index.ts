// Builds the driver a config entry asks for.
import type { DriverConfig } from './config.ts';
import { SimulatedDriver } from './simulated/simulated.ts';
import type { Driver, DriverContext } from './types.ts';

export function createDriver(config: DriverConfig, ctx: DriverContext): Driver {
  switch (config.kind) {
    case 'simulated':
      return new SimulatedDriver(config, ctx);
  }
}
