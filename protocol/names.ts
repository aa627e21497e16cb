// Device, sensor and metric names: what every record's names must look like.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function isValidName(s: unknown): s is string {
  return typeof s === 'string' && NAME.test(s);
}
