// What sensors can physically report, per metric: the defaults for the range rule and the rate of
// change rule when the config says nothing. Figures from the sensors' data sheets (MH-Z19: 0-5000
// ppm range, 0-10000 ppm variant; ION7550 power meter; common temperature and humidity parts).
export interface SensorSpec {
  min: number;
  max: number;
  /** largest believable change per second */
  maxRatePerS?: number;
}

export const SENSOR_SPECS: Record<string, SensorSpec> = {
  co2_ppm: { min: 0, max: 10_000, maxRatePerS: 500 },
  temperature_c: { min: -40, max: 125, maxRatePerS: 5 },
  humidity_pct: { min: 0, max: 100, maxRatePerS: 10 },
  power_kw: { min: -100_000, max: 100_000 },
  energy_kwh: { min: 0, max: 1e12 },
  voltage_v: { min: 0, max: 100_000 },
  current_a: { min: -100_000, max: 100_000 },
  frequency_hz: { min: 40, max: 70, maxRatePerS: 5 },
  power_factor: { min: -1, max: 1 },
  methane_pct: { min: 0, max: 100, maxRatePerS: 20 },
  flow_m3h: { min: 0, max: 1e6 },
  irradiance_wm2: { min: 0, max: 2000 },
};
