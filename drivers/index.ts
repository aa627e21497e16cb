// Builds the driver a config entry asks for.
import type { DriverConfig } from './config.ts';
import { Ion7550Driver } from './ion7550/ion7550.ts';
import { Mhz19Driver } from './mhz19/mhz19.ts';
import { SimulatedDriver } from './simulated/simulated.ts';
import type { Driver, DriverContext } from './types.ts';

export function createDriver(config: DriverConfig, ctx: DriverContext): Driver {
  switch (config.kind) {
    case 'simulated':
      return new SimulatedDriver(config, ctx);
    case 'mhz19':
      return new Mhz19Driver(config, ctx);
    case 'ion7550':
      return new Ion7550Driver(config, ctx);
  }
}
