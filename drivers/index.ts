// Builds the driver a config entry asks for. Each kind's module is imported when a config names
// it: a device with no serial sensor does not load serialport, one with no meter not modbus-serial.
import type { DriverConfig } from './config.ts';
import type { Driver, DriverContext } from '../kernel/source.ts';

export async function createDriver(config: DriverConfig, ctx: DriverContext): Promise<Driver> {
  switch (config.kind) {
    case 'simulated':
      return new (await import('./simulated/simulated.ts')).SimulatedDriver(config, ctx);
    case 'mhz19':
      return new (await import('./mhz19/mhz19.ts')).Mhz19Driver(config, ctx);
    case 'ion7550':
      return new (await import('./ion7550/ion7550.ts')).Ion7550Driver(config, ctx);
  }
}
