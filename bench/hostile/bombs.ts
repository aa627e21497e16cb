// Gzip bombs: a few tens of kilobytes that inflate to tens of megabytes, with a chosen prefix
// (a header, an envelope) so that each one tests a different point of the sink's reading order.
// Built once through a streaming gzip, so the inflated bytes are never held.
import { once } from 'node:events';
import { createGzip } from 'node:zlib';

const FILL_CHUNK = Buffer.alloc(1024 * 1024, 'x');

export async function gzipBomb(prefix: Buffer | string, inflatedBytes: number, fill: Buffer = FILL_CHUNK, suffix: Buffer | string = ''): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (d: Buffer) => out.push(d));
  const write = async (b: Buffer) => {
    if (!gz.write(b)) await once(gz, 'drain');
  };
  await write(Buffer.from(prefix));
  for (let left = inflatedBytes; left > 0; left -= fill.length) await write(left >= fill.length ? fill : fill.subarray(0, left));
  gz.end(Buffer.from(suffix));
  await once(gz, 'end');
  return Buffer.concat(out);
}
