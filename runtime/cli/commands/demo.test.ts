// `fieldproof demo` as a user runs it: a child process, the URL on the first line, a live
// dashboard with every device kind wired in this build, and a clean stop on SIGTERM.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';

const BIN = resolve(import.meta.dirname, '../../../bin/fieldproof.js');

function getJson(url: string): Promise<unknown> {
  return new Promise((resolveGet, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolveGet(JSON.parse(body)) : reject(new Error(`${url}: ${res.statusCode}`))));
    })
      .on('error', reject)
      .end();
  });
}

describe('fieldproof demo', () => {
  it('prints the dashboard URL first, shows every device kind on it, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const until = Date.now() + 20_000;
      while (!out.includes('\n')) {
        if (Date.now() > until || child.exitCode !== null) throw new Error(`no first line: ${out} ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const first = out.split('\n')[0]!;
      const m = /^fieldproof demo: dashboard at (http:\/\/127\.0\.0\.1:(\d+)\/)$/.exec(first);
      assert.ok(m, `first line: ${first}`);
      const url = m[1]!;
      const dataDir = /data in (\S+)/.exec(out)?.[1];

      // Wait for a progress line, then for readings of every series the demo names.
      type Status = { sensors: { sensor: string; metric: string; value: number | null }[]; sources: { id: string; kind: string; state: string }[] };
      let status: Status | null = null;
      while (Date.now() < until + 20_000) {
        if (/\[\s*\d+ s\] journaled/.test(out)) {
          status = (await getJson(`${url}api/status`)) as Status;
          const kinds = new Set(status.sources.map((s) => s.kind));
          if (kinds.has('simulated') && (!kinds.has('mhz19') || status.sensors.some((s) => s.sensor === 'co2-room' && s.metric === 'co2_ppm' && s.value !== null))) break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(status, `no status: ${out}`);
      const kinds = status.sources.map((s) => s.kind).sort();
      assert.ok(kinds.includes('simulated'), `sources: ${kinds}`);
      if (kinds.includes('mhz19')) {
        const co2 = status.sensors.find((s) => s.sensor === 'co2-room' && s.metric === 'co2_ppm');
        assert.ok(co2 && co2.value !== null && co2.value > 300 && co2.value < 1000, `co2 over the pty: ${JSON.stringify(co2)}`);
      }

      child.kill('SIGTERM');
      assert.equal(await exited, 0, out + err);
      assert.match(out, /stopped: \d+ records journaled in \d+ signed batches/);
      if (dataDir) assert.ok(!existsSync(dataDir), 'the temp folder is removed');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses a bad --port in one line', async () => {
    const child = spawn(process.execPath, [BIN, 'demo', '--port', 'eighty'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, 2);
    assert.equal(err, 'fieldproof demo: --port must be a port number (1-65535), got "eighty"\n');
  });
});
