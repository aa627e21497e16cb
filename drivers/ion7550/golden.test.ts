// Golden cases: testcases/<case>/input.json holds a config (merged over the defaults) and the
// register words the meter held at each poll (and the blocks it refused, with their exception code);
// expected.json the readings the driver emits, in order.
// FIELDPROOF_UPDATE_GOLDEN=1 rewrites expected.json (review the diff before committing it).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ReadingInput } from '../../protocol/records.ts';
import { ReadError } from '../poll/errors.ts';
import { ion7550DriverSchema } from './config.ts';
import { Ion7550Decoder, type BlockResults } from './ion7550.ts';

const root = join(fileURLToPath(new URL('.', import.meta.url)), 'testcases');

interface Poll {
  ts: number;
  registers: Record<string, number>;
  exceptions?: Record<string, number>;
}

for (const name of readdirSync(root).sort()) {
  test(`golden: ${name}`, () => {
    const dir = join(root, name);
    const input = JSON.parse(readFileSync(join(dir, 'input.json'), 'utf8')) as { config: Record<string, unknown>; polls: Poll[] };
    const config = ion7550DriverSchema.parse({ kind: 'ion7550', id: 'meter-1', tcp: { host: '127.0.0.1' }, ...input.config });
    const decoder = new Ion7550Decoder(config);
    const readings: ReadingInput[] = [];
    for (const poll of input.polls) {
      const results: BlockResults = decoder.blocks.map((block) => {
        for (const [reg, code] of Object.entries(poll.exceptions ?? {})) {
          const a = Number(reg) - 40001;
          if (a >= block.address && a < block.address + block.count) return new ReadError(`Modbus exception ${code}`, 'modbus_exception', false);
        }
        const bytes = Buffer.alloc(block.count * 2);
        for (let i = 0; i < block.count; i++) bytes.writeUInt16BE(poll.registers[String(40001 + block.address + i)] ?? 0, i * 2);
        return bytes;
      });
      decoder.decode(results, poll.ts, 0, (r) => readings.push(r));
    }
    const expectedFile = join(dir, 'expected.json');
    if (process.env.FIELDPROOF_UPDATE_GOLDEN === '1') writeFileSync(expectedFile, JSON.stringify(readings, null, 2) + '\n');
    assert.deepEqual(readings, JSON.parse(readFileSync(expectedFile, 'utf8')));
  });
}
