// The golden cases under testcases/: each names a codec from examples/ and an uplink (or a
// downlink), and expected.json is what `fieldproof codec test ... --json` prints for it. Vendor
// codecs in the vendors' styles, through the isolated engine, checked field by field.
// UPDATE_GOLDEN=1 writes the expected files anew (read the diff before committing it).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testDownlink, testUplink } from './codec-test.ts';
import { CodecEngine } from './engine/host.ts';
import { JsCodec } from './js-codec.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const casesDir = join(here, 'testcases');
const RECV_TIME = Date.UTC(2026, 0, 15, 12, 0, 0);

interface Case {
  codec: string;
  fPort: number | null;
  hex?: string;
  downlink?: unknown;
  variables?: Record<string, string>;
}

describe('golden codec cases', () => {
  const engine = new CodecEngine();
  before(() => engine.start());
  after(() => engine.stop());

  for (const name of readdirSync(casesDir).sort()) {
    it(name, async () => {
      const c = JSON.parse(readFileSync(join(casesDir, name, 'case.json'), 'utf8')) as Case;
      const codec = await JsCodec.fromFile(engine, join(here, 'examples', c.codec));
      const variables = c.variables ?? {};
      const got = c.downlink !== undefined
        ? await testDownlink(codec, { data: c.downlink, fPort: c.fPort, variables })
        : await testUplink(codec, { bytes: Buffer.from(c.hex!, 'hex'), fPort: c.fPort!, variables, recvTime: RECV_TIME });
      const file = join(casesDir, name, 'expected.json');
      const out = { exit: got.ok ? 0 : 1, ...got.result };
      if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
      assert.deepEqual(out, JSON.parse(readFileSync(file, 'utf8')));
      codec.unload();
    });
  }
});
