// A real mosquitto broker for tests and the alert benchmark: started on a free port with a
// generated config (optionally TLS with a throwaway CA, requiring client certificates or not,
// optionally username/password and a topic ACL), stopped and cleaned up afterwards.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort as freePort } from '../kernel/net.ts';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export interface Broker {
  port: number;
  url: string;
  dir: string;
  certs?: TestCerts;
  /** what the broker wrote to stderr so far */
  log(): string;
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /** a TLS listener (mqtts://) with a throwaway CA, or with `certs` when given (a broker restarted with the same identity) */
  tls?: boolean;
  certs?: TestCerts;
  /** with tls: demand a client certificate and take its CN as the user name (default true, what AWS IoT Core does) */
  clientCertificates?: boolean;
  /** user names and passwords (a password file made with mosquitto_passwd) */
  users?: Record<string, string>;
  /** an ACL file's text (`user NAME` / `topic read|write|readwrite FILTER` lines) */
  acl?: string;
  /** log each CONNECT (client id, protocol level, user) to stderr, for tests that check how a client connects */
  logConnections?: boolean;
  /** listen there (a broker restarted where its clients expect it) rather than on a free port */
  port?: number;
}


/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made by openssl. */
export function makeTestCerts(dir: string, clientName = 'site-a-gw1'): TestCerts {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=fieldproof test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', `/CN=${clientName}`);
  ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2');
  return { dir, ca: join(dir, 'ca.crt'), serverCert: join(dir, 'server.crt'), serverKey: join(dir, 'server.key'), clientCert: join(dir, 'client.crt'), clientKey: join(dir, 'client.key') };
}

/** Another client certificate (CN `name`) from the CA of `certs`: `<name>.crt`, `<name>.key` beside them. */
export function makeClientCert(certs: TestCerts, name: string): { cert: string; key: string } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: certs.dir, stdio: 'pipe' });
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2');
  return { cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`) };
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on ${port}: ${log()}`);
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'fp-mosquitto-'));
  const port = opts.port ?? (await freePort());
  const lines = [`listener ${port} 127.0.0.1`, 'set_tcp_nodelay true', 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning'];
  if (opts.logConnections) lines.push('log_type notice', 'connection_messages true');
  let certs: TestCerts | undefined;
  if (opts.tls) {
    certs = opts.certs ?? makeTestCerts(dir);
    lines.push(`cafile ${certs.ca}`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`);
    if (opts.clientCertificates ?? true) lines.push('require_certificate true', 'use_identity_as_username true', 'allow_anonymous false');
  }
  if (opts.users) {
    const pw = join(dir, 'passwd');
    writeFileSync(pw, '');
    for (const [u, p] of Object.entries(opts.users)) execFileSync('mosquitto_passwd', ['-b', pw, u, p], { stdio: 'pipe' });
    lines.push(`password_file ${pw}`, 'allow_anonymous false');
  } else if (!opts.tls) {
    lines.push('allow_anonymous true');
  }
  if (opts.acl !== undefined) {
    writeFileSync(join(dir, 'acl'), opts.acl);
    lines.push(`acl_file ${join(dir, 'acl')}`);
  }
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, lines.join('\n') + '\n');
  // started as root, mosquitto drops to its own user, which must be able to read these throwaway files
  for (const d of new Set([dir, certs?.dir ?? dir])) {
    chmodSync(d, 0o755);
    for (const f of readdirSync(d)) chmodSync(join(d, f), 0o644);
  }
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitForPort(port, child, () => stderr.trim());
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    dir,
    ...(certs ? { certs } : {}),
    log: () => stderr,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
