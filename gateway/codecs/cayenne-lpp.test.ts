import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { vectors } from '../testdata/vectors.ts';
import { decodeCayenneLpp } from './cayenne-lpp.ts';
import { CayenneLppCodec } from './cayenne-lpp.ts';

const casesDir = new URL('../testcases/', import.meta.url);

describe('Cayenne LPP', () => {
  it('decodes the examples of the Cayenne documentation (lorawan-vectors.json)', () => {
    for (const ex of vectors.cayenneLppExamples) {
      const readings = decodeCayenneLpp(Buffer.from(ex.hex, 'hex'));
      for (const d of ex.decoded) {
        const mine = readings.filter((r) => r.channel === d.channel);
        if (typeof d.value === 'number') {
          assert.equal(mine.length, 1);
          assert.equal(mine[0]!.value, d.value);
        } else {
          // accelerometer {x,y,z} and GPS {latitude, longitude, altitude_m}: one reading per part, in order
          assert.deepEqual(mine.map((r) => r.value), Object.values(d.value));
        }
      }
    }
  });

  for (const name of readdirSync(casesDir).filter((n) => n.startsWith('cayenne-')).sort()) {
    it(`golden case ${name}`, () => {
      const input = Buffer.from(readFileSync(new URL(`${name}/input.hex`, casesDir), 'utf8').trim(), 'hex');
      const expected = JSON.parse(readFileSync(new URL(`${name}/expected.json`, casesDir), 'utf8')) as unknown;
      if (Array.isArray(expected)) assert.deepEqual(decodeCayenneLpp(input), expected);
      else assert.throws(() => decodeCayenneLpp(input), { message: (expected as { error: string }).error });
    });
  }

  it('an empty payload holds no readings', () => {
    assert.deepEqual(decodeCayenneLpp(new Uint8Array(0)), []);
  });

  it('a lone channel byte is a truncated header', () => {
    assert.throws(() => decodeCayenneLpp(Uint8Array.of(1)), /truncated item header at byte 0/);
  });

  it('the codec reports a bad payload as an outcome, never by throwing', async () => {
    const [good, bad] = await new CayenneLppCodec().decodeBatch([
      { bytes: Buffer.from('03670110', 'hex'), fPort: 1, recvTime: 0 },
      { bytes: Buffer.from('0367', 'hex'), fPort: 1, recvTime: 0 },
    ]);
    assert.deepEqual(good, { ok: true, readings: [{ channel: 3, metric: 'temperature_c', unit: 'degC', value: 27.2 }], warnings: [], unmapped: [], unmappedCount: 0 });
    assert.equal(bad!.ok, false);
    assert.match((bad as { error: string }).error, /^Cayenne LPP: temperature on channel 3 needs 2 bytes, 0 left$/);
  });
});
