// TLS at the sink, with certificates openssl makes for this run and a real `fieldproof sink`
// process: HTTPS through undici, the certificate swapped on SIGHUP while the listener (and an open
// connection) stays, a broken certificate refused on reload, and the rule that a sink reachable
// beyond loopback serves TLS unless the operator writes insecure: true.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, Client, request } from 'undici';
import { startSinkProcess, type SinkProcess } from './sink-process.ts';
import { tempDir } from '../test/support/sink.ts';

const BIN = fileURLToPath(new URL('../bin/fieldproof.js', import.meta.url));

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, and a certificate for 127.0.0.1 it signs; `name` keeps the files of several apart. */
function makeCert(dir: string, name: string): { ca: string; cert: string; key: string } {
  openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`, '-subj', `/CN=${name} test CA`, '-days', '2');
  openssl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, `${name}.ext`), 'subjectAltName=IP:127.0.0.1\n');
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${name}-ca.pem`, '-CAkey', `${name}-ca.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  return { ca: join(dir, `${name}-ca.pem`), cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

/** The fingerprint of the certificate a new TLS connection is shown. */
function servedFingerprint(url: string, ca: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: hostname, port: Number(port), ca: readFileSync(ca) }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on('error', reject);
  });
}

function fingerprintOf(certFile: string): string {
  return execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' }).trim().split('=')[1]!;
}

/** A verb expected to fail at start; one that started instead is stopped by the timeout (and fails the test). */
function cli(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('sink TLS', () => {
  const tmp = tempDir('fieldproof-tls-');
  const dir = tmp.dir;
  let first: ReturnType<typeof makeCert>;
  let second: ReturnType<typeof makeCert>;
  let sink: SinkProcess;
  const live = { cert: join(dir, 'live.pem'), key: join(dir, 'live.key') };

  before(async () => {
    first = makeCert(dir, 'first');
    second = makeCert(dir, 'second');
    writeFileSync(live.cert, readFileSync(first.cert));
    writeFileSync(live.key, readFileSync(first.key));
    const config = join(dir, 'sink.yaml');
    // every interface: reachable beyond loopback, so TLS is what makes this config valid
    writeFileSync(config, `listen: 0.0.0.0:0\ndataDir: ${join(dir, 'data')}\ntls:\n  cert: live.pem\n  key: live.key\n`);
    sink = await startSinkProcess(config);
  });
  after(async () => {
    await sink?.stop();
    tmp.cleanup();
  });

  const url = () => sink.url.replace('0.0.0.0', '127.0.0.1');

  it('serves HTTPS to a client that trusts its CA, and nothing to one that does not', async () => {
    assert.match(sink.url, /^https:/);
    const agent = new Agent({ connect: { ca: readFileSync(first.ca) } });
    const res = await request(`${url()}/healthz`, { dispatcher: agent });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(await res.body.json(), { ok: true, store: 'level' });
    await agent.close();
    await assert.rejects(request(`${url()}/healthz`), /certificate/);
  });

  it('takes a new certificate on SIGHUP without closing the listener or an open connection', async () => {
    assert.equal(await servedFingerprint(url(), first.ca), fingerprintOf(first.cert));
    const client = new Client(url(), { connect: { ca: [readFileSync(first.ca), readFileSync(second.ca)] } });
    const before = await client.request({ path: '/healthz', method: 'GET' });
    await before.body.text();

    writeFileSync(live.cert, readFileSync(second.cert));
    writeFileSync(live.key, readFileSync(second.key));
    const reloaded = sink.nextLog(/^certificate reloaded$/);
    sink.child.kill('SIGHUP');
    await reloaded;

    assert.equal(await servedFingerprint(url(), second.ca), fingerprintOf(second.cert));
    const again = await client.request({ path: '/healthz', method: 'GET' });
    assert.equal(again.statusCode, 200, 'the connection opened before the reload still works');
    await again.body.text();
    await client.close();
    assert.equal(sink.child.exitCode, null);
  });

  it('keeps the certificate it has when the new files are broken', async () => {
    writeFileSync(live.cert, 'not a certificate\n');
    const failed = sink.nextLog(/^certificate reload failed/);
    sink.child.kill('SIGHUP');
    const line = await failed;
    assert.match(String(line.err), /live\.pem/);
    assert.equal(await servedFingerprint(url(), second.ca), fingerprintOf(second.cert));
  });

  it('refuses to start beyond loopback with neither tls nor insecure, in one line, exit 2', async () => {
    const file = join(dir, 'open.yaml');
    writeFileSync(file, `listen: 0.0.0.0:0\ndataDir: ${join(dir, 'open')}\n`);
    const r = await cli(['sink', '--config', file]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /listen: 0\.0\.0\.0:0 is reachable beyond this machine: give tls: \{cert, key\}, or insecure: true/);
    const both = join(dir, 'both.yaml');
    writeFileSync(both, `listen: 0.0.0.0:0\ndataDir: ${join(dir, 'open')}\ninsecure: true\ntls:\n  cert: live.pem\n  key: live.key\n`);
    const b = await cli(['sink', '--config', both]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /insecure: give tls or insecure: true, not both/);
    const missing = join(dir, 'missing.yaml');
    writeFileSync(missing, `listen: 0.0.0.0:0\ndataDir: ${join(dir, 'open')}\ntls:\n  cert: nope.pem\n  key: live.key\n`);
    const m = await cli(['sink', '--config', missing]);
    assert.equal(m.code, 2);
    assert.match(m.stderr, /^fieldproof sink: tls\.cert: cannot read .*nope\.pem: ENOENT\n$/);
  });

  it('serves plain HTTP beyond loopback with insecure: true, warning about it at every start', async () => {
    const file = join(dir, 'proxied.yaml');
    writeFileSync(file, `listen: 0.0.0.0:0\ndataDir: ${join(dir, 'proxied')}\ninsecure: true\n`);
    for (let start = 0; start < 2; start++) {
      const s = await startSinkProcess(file);
      try {
        assert.match(s.url, /^http:/);
        const warning = s.logs.find((l) => /^insecure: true/.test(String(l.msg)));
        assert.ok(warning, 'the warning is logged at start');
        assert.equal(warning.level, 40);
        const res = await request(`${s.url.replace('0.0.0.0', '127.0.0.1')}/healthz`);
        assert.equal(res.statusCode, 200);
        await res.body.text();
      } finally {
        await s.stop();
      }
    }
  });

  it('keeps the minimal config of docs/spec/configs.md on loopback, plain HTTP, as before', async () => {
    const file = join(dir, 'minimal.yaml');
    writeFileSync(file, `listen: 127.0.0.1:0\ndataDir: ${join(dir, 'minimal')}\ndevices:\n  - id: site-a-gw1\n    key: 5f2c...\nanchor:\n  mode: none\n  intervalMs: 60000\n`);
    const s = await startSinkProcess(file);
    try {
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:/);
      assert.equal(s.logs.some((l) => /^insecure/.test(String(l.msg))), false);
    } finally {
      await s.stop();
    }
  });
});
