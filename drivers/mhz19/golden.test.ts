// Golden cases: testcases/<case>/input.hex holds the bytes as the serial port delivered them (one
// line per read), context.json what the driver knew (range, calibration date, warm-up, retries);
// expected.json the readings the driver emits and the bytes it rejected.
// FIELDPROOF_UPDATE_GOLDEN=1 rewrites expected.json (review the diff before committing it).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Mhz19FrameParser, type RejectReason } from './frame-parser.ts';
import type { ReadingInput } from '../../protocol/records.ts';
import { Mhz19Readings } from './mhz19.ts';
import { CMD, decodeCo2 } from './protocol.ts';

const root = join(fileURLToPath(new URL('.', import.meta.url)), 'testcases');

function parseHex(text: string): Buffer[] {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((l) => Buffer.from(l.replace(/\s+/g, ''), 'hex'));
}

async function frames(chunks: Buffer[]) {
  const rejected: Record<RejectReason, number> = { noise: 0, bad_checksum: 0, truncated: 0 };
  const parser = new Mhz19FrameParser((reason, bytes) => (rejected[reason] += bytes));
  const out: Buffer[] = [];
  parser.on('data', (f: Buffer) => out.push(f));
  for (const c of chunks) parser.write(c);
  parser.end();
  await new Promise((r) => parser.once('finish', r));
  return { out, rejected };
}

for (const name of readdirSync(root).sort()) {
  test(`golden: ${name}`, async () => {
    const dir = join(root, name);
    const ctxFile = join(dir, 'context.json');
    const ctx = existsSync(ctxFile) ? JSON.parse(readFileSync(ctxFile, 'utf8')) : {};
    const now = Date.parse(ctx.now ?? '2026-03-01T00:00:00Z');
    const { out, rejected } = await frames(parseHex(readFileSync(join(dir, 'input.hex'), 'utf8')));
    const builder = new Mhz19Readings({ id: 'co2-1', rangePpm: ctx.rangePpm ?? 5000 });
    const readings: ReadingInput[] = [];
    for (const f of out.filter((f) => f[1] === CMD.readCo2)) {
      const context = { ts: now, retries: ctx.retries ?? 0, warmingUp: ctx.warmingUp ?? false, calibratedAt: Date.parse(ctx.calibratedAt ?? ctx.now ?? '2026-03-01T00:00:00Z') };
      builder.emit(decodeCo2(f), context, (r) => readings.push(r));
    }
    const actual = { readings, rejected };
    const expectedFile = join(dir, 'expected.json');
    if (process.env.FIELDPROOF_UPDATE_GOLDEN === '1') writeFileSync(expectedFile, JSON.stringify(actual, null, 2) + '\n');
    assert.deepEqual(actual, JSON.parse(readFileSync(expectedFile, 'utf8')));
  });
}
