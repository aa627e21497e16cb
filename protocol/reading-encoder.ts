// The canonical (RFC 8785) bytes of a reading record, written directly as a string template.
// Every reading passes through here, and building the object and walking it generically costs
// several times more. The member order below is the JCS order (keys sorted by UTF-16 code units;
// `state`, present only on readings that carry text, sorts between `seq` and `ts`);
// reading-encoder.test.ts checks the output against the generic canonicalize() on random records.
import { canonicalize } from './canonical.ts';
import type { Quality, ReadingInput } from './records.ts';

function num(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`cannot encode non-finite number ${n}`);
  return Object.is(n, -0) ? '0' : String(n);
}

function flagsJson(flags: readonly string[]): string {
  if (flags.length === 0) return '[]';
  let out = '[';
  for (let i = 0; i < flags.length; i++) out += (i ? ',' : '') + JSON.stringify(flags[i]);
  return out + ']';
}

export class ReadingEncoder {
  private readonly devicePrefix: string;

  readonly device: string;

  constructor(device: string) {
    this.device = device;
    this.devicePrefix = `{"device":${JSON.stringify(device)},"kind":"reading",`;
  }

  encode(seq: number, r: ReadingInput, quality: Quality): string {
    return (
      this.devicePrefix +
      (r.meta !== undefined ? `"meta":${canonicalize(r.meta)},` : '') +
      `"metric":${JSON.stringify(r.metric)},"quality":{"flags":${flagsJson(quality.flags)},"score":${num(quality.score)}},` +
      `"sensor":${JSON.stringify(r.sensor)},"seq":${seq},` +
      (r.state !== undefined ? `"state":${JSON.stringify(r.state)},` : '') +
      `"ts":${num(r.ts)},"unit":${JSON.stringify(r.unit)},` +
      `"v":1,"value":${r.value === null ? 'null' : num(r.value)}}`
    );
  }
}
